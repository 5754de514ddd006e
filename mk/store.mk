# The session store's cross-process suite and benchmark.  Its C unit tests
# (tests/c/test_store.c) run with test-c and test-valgrind.
STORE_BIN := $(B)/store-progs
STORE_LINK := tests/c/tls_pair.c $(CORE_SRC) $(SSL_LIBS) -ldl

$(STORE_BIN)/%: tests/store/%.c tests/c/tls_pair.c $(CORE_SRC) $(TEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ $< $(STORE_LINK)

$(B)/bench/store_bench: bench/store_bench.c tests/c/tls_pair.c $(CORE_SRC) \
                        $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O2 -g -Icsrc -Itests/c -o $@ $< $(STORE_LINK)

.PHONY: test-store bench-store
test-store: $(STORE_BIN)/store_torture $(STORE_BIN)/store_tool
	@bash tests/store/run.sh $(STORE_BIN)

# BENCH_STORE_ARGS=--big adds the 1,000,000-entry step (~8 GB of disk).
bench-store: $(B)/bench/store_bench
	@mkdir -p bench/out
	$(B)/bench/store_bench $(BENCH_STORE_ARGS) | tee bench/out/store.txt

TEST_TARGETS += test-store
BENCH_TARGETS += bench-store
