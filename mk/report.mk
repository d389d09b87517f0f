# The HTML report (`tracemalloc report`, analyzer/report.c). Its template, stylesheet and script
# are real files under analyzer/report/, compiled into the binary through a generated header,
# build/report/report_assets.h (analyzer/report/embed.sh: od and sed, nothing to install). A
# header rather than a generated .c, so every build of analyzer/*.c (the ASan build of
# tests/errors too) gets the assets without a change to its link line.
REPORT_ASSETS := analyzer/report/report.html analyzer/report/report.css analyzer/report/report.js
ANALYZER_CFLAGS += -I$(BUILD)/report

$(BUILD)/report/report_assets.h: $(REPORT_ASSETS) analyzer/report/embed.sh
	@mkdir -p $(@D)
	sh analyzer/report/embed.sh $@ $(REPORT_ASSETS)

$(BUILD)/analyzer/report.o $(BUILD)/asan/tracemalloc: $(BUILD)/report/report_assets.h

# The page in headless Chromium, driven by playwright-core from npm (pinned by
# tests/report/package-lock.json, installed by `npm ci` at test time into build/report/node).
TEST_SUITES += tests/report/run.sh
TEST_DEPS   += $(BUILD)/tracemalloc
