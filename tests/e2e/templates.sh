#!/usr/bin/env bash
# The template commands end to end: nyx render with --var (shipped templates, lists, warnings,
# missing variables), nyx templates list | show | history | diff | stats, their exit codes
# (0 success, 1 runtime error, 2 usage error), an edit in a NYX_TEMPLATE_PATH directory making
# a new version, a script's calls made with template= showing up in the statistics, and a
# directory of NYX_TEMPLATE_PATH that does not exist said once on stderr (it was silently passed
# over).
set -uo pipefail

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
mkdir -p "$work/tpl" "$work/cwd"
clean_env+=("NYX_TEMPLATE_PATH=$work/tpl")
cd "$work/cwd" || exit 1

# ---- nyx render with the shipped templates ----

run_nyx render council_persona --var name=CFO --var "role=chief financial officer" \
  --var "focus=Judge the proposal on cash and payback."
check "nyx render council_persona exits 0" "$rc" "$err"
[[ "$(head -2 <<<"$out")" == $'You are the CFO (chief financial officer) on this council.\nJudge the proposal on cash and payback.' ]]
check "the persona's variables are filled in" $? "$out"
check_grep "a declared default fills an unset variable" "$out" "Keep the whole answer under 250 words."
check_no_grep "no template syntax is left in the output" "$out" "{{"

run_nyx render council_persona --var name=CFO
check_exit "a missing required variable exits 1, named with the template's file:line" 1 "$err" -E "council_persona\.md:[0-9]+: missing required variable 'focus'"

run_nyx render council_persona --var name=CFO --var focus=cash --var colour=red
check_exit "an unknown variable is a warning on stderr, not an error" 0 "$err" "variable 'colour' is given but not declared"

run_nyx render task_execution --var "role=a senior analyst" --var "task=Count the rows." \
  --var "output_format=COUNT: <n>" --var "constraints=Use SQL only." --var "constraints=No guessing."
[[ $rc == 0 ]] && grep -q "^- Use SQL only\.$" <<<"$out" && grep -q "^- No guessing\.$" <<<"$out"
check "a --var given twice is a list for a section" $? "$out $err"

run_nyx render no_such_template
check_exit "an unknown template exits 1 and is named" 1 "$err" "template 'no_such_template' not found"

run_nyx render
check "nyx render without a name exits 2" $((rc != 2)) "rc=$rc"
run_nyx render council_persona --var novalue
check "--var without k=v exits 2" $((rc != 2)) "rc=$rc"
run_nyx render --help
check "nyx render --help exits 0" "$rc" "$err"

# ---- versions: an edit in a NYX_TEMPLATE_PATH directory ----

printf -- '---\ndescription: A memo\nvariables:\n  to: {required: true}\n---\nDear {{to}},\nthe plan stands.\nRegards\n' >"$work/tpl/memo.md"
run_nyx render memo --var to=Ann
[[ $rc == 0 && "$out" == $'Dear Ann,\nthe plan stands.\nRegards' ]]
check "a template in NYX_TEMPLATE_PATH renders" $? "rc=$rc $out $err"

printf -- '---\ndescription: A memo\nvariables:\n  to: {required: true}\n---\nDear {{to}},\nthe plan changes.\nRegards\n' >"$work/tpl/memo.md"
run_nyx render memo --var to=Ann
[[ $rc == 0 && "$out" == $'Dear Ann,\nthe plan changes.\nRegards' ]]
check "the edited file renders" $? "rc=$rc $out $err"

run_nyx templates history memo
check "nyx templates history exits 0" "$rc" "$err"
[[ $(grep -Ec "^ +[0-9]+ +[0-9a-f]{16} " <<<"$out") == 2 ]] && grep -Eq "^ +2 .* \*" <<<"$out"
check "the edit made version 2, which serves now" $? "$out"

run_nyx render memo --var to=Bo
run_nyx templates history memo
[[ $(grep -Ec "^ +[0-9]+ +[0-9a-f]{16} " <<<"$out") == 2 ]]
check "rendering unchanged content adds no version" $? "$out"

run_nyx templates show memo@1
check "nyx templates show NAME@V exits 0" "$rc" "$err"
[[ "$(head -1 <<<"$out")" == "# memo@1 (database)" ]] && grep -q "the plan stands." <<<"$out"
check "show NAME@V prints the old version's text" $? "$out"

run_nyx templates show memo
[[ $rc == 0 && "$(head -1 <<<"$out")" == "# memo@2 ($work/tpl/memo.md)" ]] && grep -q "the plan changes." <<<"$out"
check "show NAME prints the current version and its file" $? "$out $err"

run_nyx templates diff memo 1 2
check "nyx templates diff exits 0" "$rc" "$err"
expected=$'--- memo@1\n+++ memo@2\n@@ -4,5 +4,5 @@\n   to: {required: true}\n ---\n Dear {{to}},\n-the plan stands.\n+the plan changes.\n Regards'
[[ "$out" == "$expected" ]]
check "the diff shows the changed line as -/+ with context" $? "$out"

run_nyx templates diff memo 1 7
check "a diff with an unknown version exits 1" $((rc != 1)) "rc=$rc"
run_nyx templates diff memo one 2
check "a diff with a version that is not a number exits 2" $((rc != 2)) "rc=$rc"
run_nyx templates diff memo 1
check "a diff without two versions exits 2" $((rc != 2)) "rc=$rc"

# ---- list and stats ----

run_nyx templates list
check "nyx templates list exits 0" "$rc" "$err"
for name in council_context council_persona task_execution memo; do
  grep -Eq "^$name +[0-9]+ +[0-9]+ " <<<"$out" || fail "list shows $name" "$out"
done
check_grep "list shows the current version, the versions stored, the file and the description" "$out" -E "^memo +2 +2 +$work/tpl/memo.md +A memo"

run_nyx templates
check_exit "nyx templates alone lists" 0 "$out" "^council_persona "

run_nyx templates list --json
check_exit "nyx templates list --json prints one JSON object per template" 0 "$out" '^{"name":"memo","version":2,"versions":2,'

cat >calls.lua <<'EOF'
local nyx = require "nyx"
local text, version = nyx.templates.render("memo", { to = "Cy" })
for _ = 1, 3 do nyx.call{ prompt = text, template = "memo", max_tokens = 20 } end
nyx.templates.record("memo", false)
print("version", version)
EOF
run_nyx run calls.lua
[[ $rc == 0 && "$out" == $'version\t2' ]]
check "a script renders and calls with template=" $? "rc=$rc $out $err"

run_nyx templates stats memo
check "nyx templates stats exits 0" "$rc" "$err"
check_grep "stats show 3 uses of version 2: the judgement turns the last call's use into a failure" "$out" -E "^ +2 +3 +2 +1 +0\.66"
check_grep "stats list the unused version 1 too" "$out" -E "^ +1 +0 +0 +0 +- "

run_nyx stats --by template
check_grep "the calls' log rows carry the template's version" "$out" -E "^memo@2 +3 "

run_nyx templates stats nosuch
check "stats of an unknown template exit 1" $((rc != 1)) "rc=$rc"
run_nyx templates frobnicate
check "an unknown subcommand exits 2" $((rc != 2)) "rc=$rc"
run_nyx templates show
check "show without a name exits 2" $((rc != 2)) "rc=$rc"
run_nyx templates show "../../etc/passwd"
check_exit "a name with a path is refused as bad usage: exit 2" 2 "$err" "a template name is 1 to 128 letters"
run_nyx templates --help
check "nyx templates --help exits 0" "$rc" "$err"

# ---- a directory of NYX_TEMPLATE_PATH that is not one: said once, the others still served ----
touch "$work/afile"
run_nyx "NYX_TEMPLATE_PATH=$work/nonexistent:$work/tpl:$work/afile" -- templates
check_exit "a missing directory of NYX_TEMPLATE_PATH: the list still comes, exit 0" 0 "$out" -E "^memo +2 +2 +$work/tpl/memo.md "
check_exit "and the missing one is said on stderr" 0 "$err" -x "nyx: NYX_TEMPLATE_PATH names $work/nonexistent, which does not exist"
check_grep "and a file that is not a directory too" "$err" -x "nyx: NYX_TEMPLATE_PATH names $work/afile, which is not a directory"
check "each once" $(($(grep -c NYX_TEMPLATE_PATH <<<"$err") != 2)) "$err"
run_nyx "NYX_TEMPLATE_PATH=$work/nonexistent:$work/tpl" -- render memo --var to=Cy
check_exit "nyx render says it too, and renders" 0 "$err" "names $work/nonexistent, which does not exist"
run_nyx templates
check_no_grep "directories that exist are not said" "$err" NYX_TEMPLATE_PATH

finish
