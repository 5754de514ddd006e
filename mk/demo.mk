# The README's first command: `make demo` installs what is missing, builds,
# and shows a session saved by one process being resumed by others
# (examples/demo.sh).  test-demo runs the same script inside `make test`:
# it fails unless every resumer resumed.  A binding whose resumer needs a
# build step adds it in its own mk file: `demo test-demo: <its target>`.
DEMO_CLIENT := $(B)/examples/tlsr-client

$(DEMO_CLIENT): examples/resume_client.c csrc/tlsresume.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) -Icsrc -o $@ examples/resume_client.c \
	    $(B)/libtlsresume.a $(SSL_LIBS) -ldl

# Resumers: C (tlsr-client), openssl s_client, Python and Lua 5.4 + LuaSec.
DEMO_NEEDS := lib $(DEMO_CLIENT) python-install lua-modules
DEMO_RUN    = TLSR_CLIENT=$(DEMO_CLIENT) TLSR_LUA_MODULE_DIR=$(B)/lua/5.4 \
              PYTHON=$(PYTHON) bash examples/demo.sh

demo: deps
	@$(MAKE) --no-print-directory $(DEMO_NEEDS)
	$(DEMO_RUN)

test-demo: $(DEMO_NEEDS)
	$(DEMO_RUN)

TEST_TARGETS += test-demo
.PHONY: test-demo
