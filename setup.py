"""Builds the tlsresume Python package: the C core (csrc/*.c) and the thin
binding (python/tlsresume/_core.c) in one extension, linked with the system
libssl / libcrypto (the ones CPython's _ssl uses; checked at import)."""
import glob
import os
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

# The start-up hook for TLSRESUME_TICKET_KEYS (python/tlsresume/_autoring.py):
# a .pth file lands in site-packages itself, next to the package.
PTH = "tlsresume-ticket-keys.pth"


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        self.copy_file(os.path.join("python", PTH),
                       os.path.join(self.build_lib, PTH))

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, PTH)]

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config"] + list(args) + ["openssl"],
                             capture_output=True, text=True, check=True)
        return out.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []


core = Extension(
    "tlsresume._core",
    sources=sorted(glob.glob("csrc/*.c")) + ["python/tlsresume/_core.c"],
    depends=glob.glob("csrc/*.h") + ["python/tlsresume/_core_ring.c"],
    include_dirs=["csrc"],
    libraries=["ssl", "crypto", "dl"],
    extra_compile_args=["-std=c11", "-D_POSIX_C_SOURCE=200809L",
                        "-D_DEFAULT_SOURCE", "-Wall", "-Wextra",
                        "-Wno-unused-parameter", "-Wno-missing-field-initializers",
                        "-Wno-cast-function-type"] + pkg_config("--cflags"),
    extra_link_args=pkg_config("--libs-only-L"),
)

setup(
    name="tlsresume",
    version="0.1.0",
    description="Save, restore and inspect TLS sessions (ssl.SSLSession)",
    package_dir={"": "python"},
    packages=["tlsresume"],
    package_data={"tlsresume": ["py.typed", "*.pyi", "redis_scripts/*.lua"]},
    extras_require={"redis": ["redis>=4.2"]},
    ext_modules=[core],
    cmdclass={"build_py": build_py_with_pth},
    entry_points={"console_scripts": ["tlsresume = tlsresume.__main__:main"],
                  # issue 11: fixtures tls_server, session_store (inert
                  # unless a test uses them)
                  "pytest11": ["tlsresume = tlsresume.pytest_plugin"]},
    python_requires=">=3.8",
)
