# The C suite: every tests/c/test_*.c is one program, linked with the test
# helpers and the core built with ASan+UBSan; test-valgrind reruns the same
# programs, built without sanitizers, under valgrind's leak checker.  The
# core and helpers are compiled once per flavour, and the programs run
# C_JOBS at a time (tools/run-c-tests: each one's output shown whole).
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
TEST_SRC  := $(wildcard tests/c/test_*.c)
TEST_HELP := $(filter-out $(TEST_SRC),$(wildcard tests/c/*.c))
TEST_HDR  := $(wildcard tests/c/*.h) $(CORE_HDR)
ASAN_BIN  := $(TEST_SRC:tests/c/%.c=$(B)/asan/%)
PLAIN_BIN := $(TEST_SRC:tests/c/%.c=$(B)/plain/%)
C_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
# Tests find tests/vectors/ and helper programs relative to the repo root.
export TLSR_ROOT := $(CURDIR)

# objs FLAVOUR: the core's and the helpers' objects for that flavour.
objs = $(CORE_SRC:csrc/%.c=$(B)/$(1)/obj/%.o) \
       $(TEST_HELP:tests/c/%.c=$(B)/$(1)/obj/t_%.o)

$(B)/asan/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g $(SAN) -c $< -o $@

$(B)/asan/obj/t_%.o: tests/c/%.c $(TEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g $(SAN) -Icsrc -Itests/c -c $< -o $@

$(B)/plain/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g -c $< -o $@

$(B)/plain/obj/t_%.o: tests/c/%.c $(TEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) -O1 -g -Icsrc -Itests/c -c $< -o $@

$(ASAN_BIN): $(B)/asan/%: tests/c/%.c $(call objs,asan) $(TEST_HDR)
	$(CC) $(STD) $(WARN) -O1 -g $(SAN) -Icsrc -Itests/c -o $@ $< \
	    $(call objs,asan) $(SSL_LIBS) -ldl

$(PLAIN_BIN): $(B)/plain/%: tests/c/%.c $(call objs,plain) $(TEST_HDR)
	$(CC) $(STD) $(WARN) -O1 -g -Icsrc -Itests/c -o $@ $< \
	    $(call objs,plain) $(SSL_LIBS) -ldl

test-c:
	@$(MAKE) --no-print-directory -j$(C_JOBS) $(ASAN_BIN)
	@ASAN_OPTIONS=detect_leaks=1 bash tools/run-c-tests $(C_JOBS) \
	    $(ASAN_BIN)

test-valgrind:
	@$(MAKE) --no-print-directory -j$(C_JOBS) $(PLAIN_BIN)
	@bash tools/run-c-tests $(C_JOBS) valgrind -q --error-exitcode=99 \
	    --leak-check=full --errors-for-leak-kinds=definite,indirect -- \
	    $(PLAIN_BIN)

TEST_TARGETS += test-c test-valgrind
