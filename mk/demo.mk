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

demo: deps lib $(DEMO_CLIENT)
	TLSR_CLIENT=$(DEMO_CLIENT) bash examples/demo.sh

test-demo: lib $(DEMO_CLIENT)
	TLSR_CLIENT=$(DEMO_CLIENT) bash examples/demo.sh

TEST_TARGETS += test-demo
.PHONY: test-demo
