# The server session cache's benchmark (its tests run with test-c and
# test-python): server CPU and wall time per handshake, shared cache (a
# store, Redis: a private redis-server when installed) vs OpenSSL's own.
SCACHE_BENCH_HELP := tests/c/tls_pair.c tests/c/redis_server.c
$(B)/bench/server_cache_bench: bench/server_cache_bench.c \
        $(SCACHE_BENCH_HELP) tests/c/tls_pair.h tests/c/redis_server.h \
        $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ \
	    bench/server_cache_bench.c $(SCACHE_BENCH_HELP) \
	    $(B)/libtlsresume.a $(SSL_LIBS) -ldl

# SCACHE_BENCH_ARGS="-n 50 -r 3" for a quick look; -d DIR puts the store
# on another file system.
bench-server-cache: $(B)/bench/server_cache_bench
	@mkdir -p $(BENCH_OUT)
	{ $(B)/bench/server_cache_bench -v 1.2 $(SCACHE_BENCH_ARGS) && \
	  $(B)/bench/server_cache_bench -v 1.3 $(SCACHE_BENCH_ARGS); } \
	    | tee $(BENCH_OUT)/server_cache.txt

BENCH_TARGETS += bench-server-cache
.PHONY: bench-server-cache

# Time inside the server new-session callback (figures only).
$(B)/bench/server_cache_cb_bench: bench/server_cache_cb_bench.c \
        tests/c/tls_pair.c tests/c/tls_pair.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ \
	    bench/server_cache_cb_bench.c tests/c/tls_pair.c \
	    $(B)/libtlsresume.a $(SSL_LIBS) -ldl

bench-server-cache-cb: $(B)/bench/server_cache_cb_bench
	@mkdir -p $(BENCH_OUT)
	{ $(B)/bench/server_cache_cb_bench 2000 batch && \
	  $(B)/bench/server_cache_cb_bench 1000 paced; } \
	    | tee $(BENCH_OUT)/server_cache_cb.txt

BENCH_TARGETS += bench-server-cache-cb
.PHONY: bench-server-cache-cb

# The Redis lookup per operation vs a raw GET of the same bytes (figures
# only; a private redis-server, skipped without one).
$(B)/bench/redis_get_bench: bench/redis_get_bench.c $(SCACHE_BENCH_HELP) \
        tests/c/tls_pair.h tests/c/redis_server.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ \
	    bench/redis_get_bench.c $(SCACHE_BENCH_HELP) \
	    $(B)/libtlsresume.a $(SSL_LIBS) -ldl

bench-redis-get: $(B)/bench/redis_get_bench
	@mkdir -p $(BENCH_OUT)
	$(B)/bench/redis_get_bench $(REDIS_GET_BENCH_ARGS) \
	    | tee $(BENCH_OUT)/redis_get.txt

BENCH_TARGETS += bench-redis-get
.PHONY: bench-redis-get
