# Attach bench (figures only): time inside the new-session callback, which
# runs in the application's SSL_read.
$(B)/bench/attach_bench: bench/attach_bench.c tests/c/tls_pair.c \
        tests/c/tls_pair.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ bench/attach_bench.c \
	    tests/c/tls_pair.c $(B)/libtlsresume.a $(SSL_LIBS) -ldl

bench-attach: $(B)/bench/attach_bench
	@mkdir -p $(BENCH_OUT)
	$(B)/bench/attach_bench | tee $(BENCH_OUT)/attach.txt

BENCH_TARGETS += bench-attach
.PHONY: bench-attach
