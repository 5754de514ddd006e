# tlsresume build.  `make demo` and `make test` are the README's two commands.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
SSL_LIBS:= -lssl -lcrypto
B       := build

CORE_SRC := $(wildcard csrc/*.c)
CORE_HDR := $(wildcard csrc/*.h)
CORE_OBJ := $(CORE_SRC:csrc/%.c=$(B)/obj/%.o)

.PHONY: all lib deps demo test test-c test-valgrind test-fuzz test-python \
        test-lua bench clean

all: lib

lib: $(B)/libtlsresume.so $(B)/libtlsresume.a

$(B)/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/libtlsresume.so: $(CORE_OBJ) csrc/tlsresume.map
	$(CC) -shared -o $@ $(CORE_OBJ) -Wl,--version-script=csrc/tlsresume.map \
	    -Wl,-soname,libtlsresume.so.0 $(SSL_LIBS) -ldl

$(B)/libtlsresume.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $(CORE_OBJ)

# Installs Debian and Python packages the project needs (idempotent).
deps:
	@bash tools/install-deps

clean:
	rm -rf $(B)

-include $(sort $(wildcard mk/*.mk))
