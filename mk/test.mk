# The README's second command: the whole test suite.  Each area's mk/*.mk
# adds its own test-* target to TEST_TARGETS.  Each target's time is
# printed after it, and all of them at the end (the whole must stay under
# 40 minutes on a 2-core machine).
test: deps
	@set -e; start=$$(date +%s); times=; \
	for t in $(TEST_TARGETS); do t0=$$(date +%s); \
	    $(MAKE) --no-print-directory $$t; \
	    secs=$$(( $$(date +%s) - t0 )); echo "== $$t: $$secs s"; \
	    times="$$times $$t=$${secs}s"; \
	done; \
	echo "make test: all suites passed in $$(( $$(date +%s) - start )) s:$$times"
