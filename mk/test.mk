# The README's second command: the whole test suite.  Each area's mk/*.mk
# adds its own test-* target to TEST_TARGETS.
test: deps
	@$(MAKE) --no-print-directory $(TEST_TARGETS)
	@echo "make test: all suites passed ($(TEST_TARGETS))"
