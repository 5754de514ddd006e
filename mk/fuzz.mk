# libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the whole core, with ASan
# and UBSan.  The seed corpus is copied from tests/vectors into the build dir
# (libFuzzer writes new inputs there, never into the repo).  Each harness
# runs FUZZ_TIME seconds; any crash, leak or sanitizer report fails the
# target and leaves the reproducer as $(FUZZ_B)/<harness>-crash-*.
FUZZ_CC    ?= clang-14
FUZZ_TIME  ?= 30
FUZZ_B     := $(B)/fuzz
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer
VEC        := tests/vectors

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -Icsrc -o $@ $< $(CORE_SRC) \
	    $(SSL_LIBS) -ldl

# Seeds: sessions and malformed inputs for parse; tickets, key files and
# sessions (first byte made odd, to feed the forged-ticket path) for ticket.
fuzz-corpus:
	@rm -rf $(FUZZ_B)/corpus && mkdir -p $(FUZZ_B)/corpus/fuzz_parse \
	    $(FUZZ_B)/corpus/fuzz_ticket
	@cp $(VEC)/sessions/* $(VEC)/variants/* $(VEC)/malformed/* \
	    $(FUZZ_B)/corpus/fuzz_parse/
	@cp $(VEC)/tickets/* $(VEC)/keys/* $(VEC)/malformed/*.ticket \
	    $(VEC)/malformed/*.key $(FUZZ_B)/corpus/fuzz_ticket/
	@if [ -d $(VEC)/regress ]; then for f in $(VEC)/regress/*; do \
	    case $$f in *.tsv|*.md) ;; *) cp $$f $(FUZZ_B)/corpus/fuzz_parse/; \
	    cp $$f $(FUZZ_B)/corpus/fuzz_ticket/;; esac; done; fi
	@for f in $(VEC)/sessions/*.der; do \
	    { printf '\001'; cat $$f; } > $(FUZZ_B)/corpus/fuzz_ticket/forge-$${f##*/}; \
	done

# The harnesses run side by side (one core each).
test-fuzz: $(FUZZ_BIN) fuzz-corpus
	@set -e; pids=; for f in $(FUZZ_BIN); do n=$${f##*/}; \
	    echo "== $$f ($(FUZZ_TIME) s)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=20 \
	        -rss_limit_mb=2048 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_B)/$$n- \
	        $(FUZZ_B)/corpus/$$n > $(FUZZ_B)/$$n.log 2>&1 & pids="$$pids $$!:$$n"; \
	done; \
	for p in $$pids; do n=$${p#*:}; \
	    wait $${p%%:*} || { tail -60 $(FUZZ_B)/$$n.log; echo "test-fuzz: $$n" \
	        "FAILED; reproducer: $(FUZZ_B)/$$n-crash-*"; exit 1; }; \
	    echo "$$n:"; \
	    grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_B)/$$n.log || true; \
	done

.PHONY: fuzz-corpus
TEST_TARGETS += test-fuzz
