#!/bin/sh
# section.sh FILE NAME < content
# Replaces the lines between "<!-- BEGIN NAME -->" and "<!-- END NAME -->" in FILE with stdin,
# appending the section when FILE lacks it, so each benchmark owns one section of docs/benchmarks.md.
set -eu
file=$1 name=$2
[ -f "$file" ] || printf '# Benchmarks\n' > "$file"
content=$(mktemp) && trap 'rm -f "$content" "$content.new"' EXIT
cat > "$content"
begin="<!-- BEGIN $name -->" end="<!-- END $name -->"
if grep -qxF "$begin" "$file"; then
    awk -v b="$begin" -v e="$end" -v c="$content" '
        $0 == b { print; while ((getline line < c) > 0) print line; skip = 1; next }
        $0 == e { skip = 0 }
        !skip { print }' "$file" > "$content.new"
else
    { cat "$file"; printf '\n%s\n' "$begin"; cat "$content"; printf '%s\n' "$end"; } > "$content.new"
fi
cat "$content.new" > "$file"
