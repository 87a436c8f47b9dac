# Sourced by bench/run.sh and bench/lib/engines.sh.
# quote ARGS...: the arguments as a shell command line, quoted only where needed
quote() {
	local a out=""
	for a in "$@"; do
		case "$a" in
		"" | *[!A-Za-z0-9_./:=@%+,-]*) a="'${a//\'/\'\\\'\'}'" ;;
		esac
		out="$out${out:+ }$a"
	done
	echo "$out"
}

# in_repo TEXT: TEXT with the repository's path ($repo/) left out, so that a
# report names no machine's checkout
in_repo() {
	echo "${1//"$repo/"/}"
}
