# The C suite: every tests/c/test_*.c is one program, linked with the test
# helpers and the core built with ASan+UBSan; test-valgrind reruns the same
# programs, built without sanitizers, under valgrind's leak checker.
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
TEST_SRC  := $(wildcard tests/c/test_*.c)
TEST_HELP := $(filter-out $(TEST_SRC),$(wildcard tests/c/*.c))
TEST_HDR  := $(wildcard tests/c/*.h) $(CORE_HDR)
ASAN_BIN  := $(TEST_SRC:tests/c/%.c=$(B)/asan/%)
PLAIN_BIN := $(TEST_SRC:tests/c/%.c=$(B)/plain/%)
# Tests find tests/vectors/ and helper programs relative to the repo root.
export TLSR_ROOT := $(CURDIR)

$(B)/asan/%: tests/c/%.c $(TEST_HELP) $(CORE_SRC) $(TEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g $(SAN) -Icsrc -Itests/c -o $@ $< \
	    $(TEST_HELP) $(CORE_SRC) $(SSL_LIBS) -ldl

$(B)/plain/%: tests/c/%.c $(TEST_HELP) $(CORE_SRC) $(TEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g -Icsrc -Itests/c -o $@ $< \
	    $(TEST_HELP) $(CORE_SRC) $(SSL_LIBS) -ldl

test-c: $(ASAN_BIN)
	@set -e; for t in $(ASAN_BIN); do echo "== $$t"; \
	    ASAN_OPTIONS=detect_leaks=1 $$t; done

test-valgrind: $(PLAIN_BIN)
	@set -e; for t in $(PLAIN_BIN); do echo "== valgrind $$t"; \
	    valgrind -q --error-exitcode=99 --leak-check=full \
	        --errors-for-leak-kinds=definite,indirect $$t; done

TEST_TARGETS += test-c test-valgrind
