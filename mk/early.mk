# Issue 13's figures (never pass/fail): a fresh Python process's CPU with a
# stored session against none (attach() + SessionStore), and the time to
# the first response byte through a delaying proxy (full, resumed, 0-RTT).
# FRESH_CPU_ARGS="--runs 15", LATENCY_ARGS="--delay-ms 25 --runs 5".
bench-fresh-cpu:
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/fresh_cpu.py $(FRESH_CPU_ARGS) | tee $(BENCH_OUT)/fresh_cpu.txt

bench-latency:
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/latency.py $(LATENCY_ARGS) | tee $(BENCH_OUT)/latency.txt

BENCH_TARGETS += bench-fresh-cpu bench-latency
.PHONY: bench-fresh-cpu bench-latency
