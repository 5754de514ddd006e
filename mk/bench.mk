# Benchmarks: figures, never pass/fail.  Each area adds its own bench-*
# target to BENCH_TARGETS; `make bench` runs them all (the list is read when
# the recipe runs, so mk/*.mk files included after this one count too).
BENCH_TARGETS += bench-session bench-s_time
BENCH_OUT     := bench/out

bench: lib
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)

# Built -O2 against the static core, like an application would use it;
# real sessions come from the C tests' in-memory TLS pairs.
$(B)/bench/session_bench: bench/session_bench.c tests/c/tls_pair.c \
        tests/c/tls_pair.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ bench/session_bench.c \
	    tests/c/tls_pair.c $(B)/libtlsresume.a $(SSL_LIBS) -ldl

# BENCH_ARGS="-t 0.1 -r 3" for a quick look.
bench-session: $(B)/bench/session_bench
	@mkdir -p $(BENCH_OUT)
	$(B)/bench/session_bench $(BENCH_ARGS) | tee $(BENCH_OUT)/session.txt

# openssl s_time -new vs -reuse against a local s_server: the baseline for
# the Python and Lua benches.  S_TIME_SECONDS sets each run's length.
bench-s_time:
	@mkdir -p $(BENCH_OUT)
	bash bench/s_time.sh | tee $(BENCH_OUT)/s_time.txt

.PHONY: bench-session bench-s_time

# RedisStore per operation vs raw redis-py, and a cold-start figure (issue
# 12).  Needs redis-server and redis-py.  REDIS_BENCH_ARGS="--seconds 0.3".
bench-redis:
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/redis_bench.py $(REDIS_BENCH_ARGS) | tee $(BENCH_OUT)/redis.txt

BENCH_TARGETS += bench-redis
.PHONY: bench-redis

# issue 11: the probe next to s_client and sslyze (pip) on local s_servers.
# SSLYZE=path/to/sslyze to include it.
bench-probe:
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/probe_bench.py $(if $(SSLYZE),--sslyze $(SSLYZE)) \
	    | tee $(BENCH_OUT)/probe.txt

BENCH_TARGETS += bench-probe
.PHONY: bench-probe

# The ticket key ring: callback cost per resumed handshake vs OpenSSL's
# built-in keys, then uvicorn (4 workers) server CPU per connection with a
# resuming client, with the ring and without.  RING_BENCH_ARGS="-t 0.2 -r 3".
$(B)/bench/ring_bench: bench/ring_bench.c tests/c/tls_pair.c \
        tests/c/tls_pair.h $(B)/libtlsresume.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ bench/ring_bench.c \
	    tests/c/tls_pair.c $(B)/libtlsresume.a $(SSL_LIBS) -ldl -lpthread

bench-ring: $(B)/bench/ring_bench
	@mkdir -p $(BENCH_OUT)
	$(B)/bench/ring_bench $(RING_BENCH_ARGS) | tee $(BENCH_OUT)/ring.txt
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/ring_uvicorn.py $(RING_UV_ARGS) | tee -a $(BENCH_OUT)/ring.txt

BENCH_TARGETS += bench-ring
.PHONY: bench-ring
