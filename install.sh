#!/usr/bin/env bash
# Install jobctl: the binary, a starter config (never overwritten), and the tick that
# runs `jobctl run` every 5 minutes: a systemd timer on Linux, a LaunchAgent on macOS.
# Running it again gives the same result; --uninstall takes it all away again except
# the config and the state. `./install.sh --help` lists the options.
#
# Written for bash 3.2 as well (the /bin/bash of macOS): no associative arrays, no
# empty arrays under `set -u`, no ${var,,}, no mapfile.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
label=com.jobctl.run
nl=$'\n'

usage() {
	cat <<EOF
Usage: $prog [options]

Installs jobctl and schedules \`jobctl run\` every 5 minutes (systemd timer on Linux,
LaunchAgent on macOS). Writes a starter config if there is none; never overwrites one.

Options:
  --prefix DIR     install the binary as DIR/bin/jobctl
                   (default: ~/.local; /usr/local with --system)
  --binary PATH    install this jobctl binary instead of building one with
                   \`cargo build --release --locked\`
  --config PATH    the config the tick uses (default: where jobctl looks by itself:
                   \$JOBCTL_CONFIG, \$JOBCTL_HOME/jobctl.toml, else
                   \${XDG_CONFIG_HOME:-~/.config}/jobctl/jobctl.toml)
  --system         Linux: install system units in /etc/systemd/system (needs root);
                   the jobs run as --run-as USER
  --run-as USER    with --system: the user jobs run as (default: the user who ran sudo)
  --no-service     install the binary and the config only, no timer or agent
  --uninstall      remove the timer or agent, the binary and config snapshots;
                   keeps config and state
  --dry-run        print what would be done and change nothing
  -h, --help       show this help

Examples:
  ./install.sh                                 build, install for you, start the tick
  ./install.sh --binary target/release/jobctl --config ~/jobs/jobctl.toml
  sudo ./install.sh --system --binary target/release/jobctl --run-as deploy
  ./install.sh --uninstall
EOF
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}

usage_error() {
	printf '%s: %s (see %s --help)\n' "$prog" "$*" "$prog" >&2
	exit 2
}

warn() {
	printf 'warning: %s\n' "$*" >&2
}

say() {
	printf '%s\n' "$*"
}

# ---- option parsing -------------------------------------------------------------

prefix="" binary="" config="" run_as=""
system=0 no_service=0 uninstall=0 dry_run=0

need_value() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then
		usage_error "$1 needs a value"
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) need_value "$@"; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--binary) need_value "$@"; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--config) need_value "$@"; config=$2; shift 2 ;;
	--config=*) config=${1#*=}; shift ;;
	--run-as) need_value "$@"; run_as=$2; shift 2 ;;
	--run-as=*) run_as=${1#*=}; shift ;;
	--system) system=1; shift ;;
	--no-service) no_service=1; shift ;;
	--uninstall) uninstall=1; shift ;;
	--dry-run | -n) dry_run=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown option: $1" ;;
	esac
done

# ---- small tools ----------------------------------------------------------------

# replace_all TEXT FROM TO: TEXT with every FROM replaced by TO, literally (no
# pattern or `&` surprises whatever the paths contain, in any bash version).
replace_all() {
	local text=$1 from=$2 to=$3 out=""
	while :; do
		case $text in
		*"$from"*)
			out=$out${text%%"$from"*}$to
			text=${text#*"$from"}
			;;
		*) break ;;
		esac
	done
	printf '%s' "$out$text"
}

xml_escape() {
	local s=$1
	s=$(replace_all "$s" '&' '&amp;')
	s=$(replace_all "$s" '<' '&lt;')
	replace_all "$s" '>' '&gt;'
}

toml_escape() {
	local s=$1
	s=$(replace_all "$s" "\\" "\\\\")
	replace_all "$s" '"' '\"'
}

# ~ and ~/x as given with --opt=~/x, where the shell did not expand them.
expand_path() {
	case $1 in
	\~) printf '%s' "$HOME" ;;
	\~/*) printf '%s' "$HOME/${1#\~/}" ;;
	*) printf '%s' "$1" ;;
	esac
}

absolute() {
	case $1 in
	/*) printf '%s' "$1" ;;
	*) printf '%s' "$PWD/${1#./}" ;;
	esac
}

# systemd would split these values at whitespace and expand % and $ in them.
check_systemd_safe() {
	case $2 in
	*[[:space:]\"\'\\%\$]*)
		die "$1 '$2' has a space, quote, backslash, % or \$, which a systemd unit can't carry as is; choose a plainer path"
		;;
	esac
}

home_of() {
	local entry
	entry=$(getent passwd "$1" 2>/dev/null) || die "no such user: $1"
	printf '%s' "$entry" | cut -d: -f6
}

# path_add DIR: append DIR to the PATH written into the units and the starter config,
# once. launchd and systemd start the tick with a bare PATH where neither jobctl nor
# most agent CLIs are found.
path_add() {
	case ":$svc_path:" in
	*":$1:"*) ;;
	*) svc_path=${svc_path:+$svc_path:}$1 ;;
	esac
}

# run CMD...: run it, or only print it under --dry-run.
run() {
	if [ "$dry_run" = 1 ]; then
		say "would run: $*"
	else
		say "running: $*"
		"$@"
	fi
}

# mkdir_owned DIR [OWNER]: mkdir -p, giving every directory it creates to OWNER (with
# --system, the user's ~/.config must not end up owned by root).
mkdir_owned() {
	local dir=$1 dir_owner=${2:-} base=$1
	while [ ! -d "$base" ]; do base=$(dirname "$base"); done
	if [ "$base" = "$dir" ]; then return 0; fi
	if [ "$dry_run" = 1 ]; then
		say "would create $dir"
		return 0
	fi
	mkdir -p "$dir"
	if [ -n "$dir_owner" ]; then
		local d=$dir
		while [ "$d" != "$base" ]; do
			chown "$dir_owner" "$d"
			d=$(dirname "$d")
		done
	fi
}

changed=0 logdir=""
tmp_file=""
trap 'if [ -n "$tmp_file" ]; then rm -f "$tmp_file"; fi' EXIT

# put_file CONTENT DEST MODE [OWNER]: write DEST only when it would change, through a
# temporary file and a rename so that nothing ever reads a half-written file. Sets
# `changed` to 1 or 0.
put_file() {
	local content=$1 dest=$2 mode=$3 file_owner=${4:-}
	if [ -f "$dest" ] && printf '%s\n' "$content" | cmp -s - "$dest"; then
		say "unchanged $dest"
		changed=0
		return 0
	fi
	changed=1
	if [ "$dry_run" = 1 ]; then
		say "would write $dest"
		return 0
	fi
	mkdir_owned "$(dirname "$dest")" "$file_owner"
	tmp_file=$(mktemp "$dest.XXXXXX")
	printf '%s\n' "$content" >"$tmp_file"
	chmod "$mode" "$tmp_file"
	if [ -n "$file_owner" ]; then chown "$file_owner" "$tmp_file"; fi
	mv -f "$tmp_file" "$dest"
	tmp_file=""
	say "wrote $dest"
}

remove_file() {
	if [ ! -e "$1" ] && [ ! -L "$1" ]; then
		return 0
	fi
	if [ "$dry_run" = 1 ]; then
		say "would remove $1"
	else
		rm -f "$1"
		say "removed $1"
	fi
}

# Set when the tick could not be started here; the end of the run says what to do.
manual_reason=""
manual_steps=""

needs_manual() {
	manual_reason=$1
	manual_steps=$2
}

# ---- where everything goes ------------------------------------------------------

os=$(uname -s)
case $os in
Linux | Darwin) ;;
*) die "unsupported system '$os': jobctl installs on Linux (systemd) and macOS (launchd)" ;;
esac

[ -n "${HOME:-}" ] || die "HOME is not set"

if [ -n "$run_as" ] && [ "$system" = 0 ]; then
	usage_error "--run-as only goes with --system"
fi
if [ "$system" = 1 ] && [ "$os" != Linux ]; then
	usage_error "--system is for systemd on Linux; on macOS the tick is a LaunchAgent of your own user"
fi
if [ "$system" = 1 ] && [ "$no_service" = 1 ]; then
	usage_error "--system and --no-service contradict each other"
fi
if [ "$system" = 1 ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "--system writes to /etc/systemd/system: run it as root (sudo $0 --system ...)"
fi
if [ "$system" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" = 0 ]; then
	die "under sudo this would install for root; run it as yourself, or use --system for a system-wide timer"
fi

owner=""
if [ "$system" = 1 ]; then
	run_as=${run_as:-${SUDO_USER:-$(id -un)}}
	case $run_as in
	*[[:space:]:]* | -*) die "--run-as '$run_as' is not a user name" ;;
	esac
	user_home=$(home_of "$run_as")
	[ -n "$user_home" ] || die "user $run_as has no home directory"
	[ "$run_as" = root ] || owner="$run_as:"
	prefix=${prefix:-/usr/local}
	default_config=$user_home/.config/jobctl/jobctl.toml
	state_home=$user_home/.local/state
else
	run_as=$(id -un)
	user_home=$HOME
	prefix=${prefix:-$HOME/.local}
	config_home=${XDG_CONFIG_HOME:-$HOME/.config}
	# The same lookup jobctl does without --config, so that plain `jobctl status`
	# in this shell reads the config the tick uses.
	if [ -n "${JOBCTL_CONFIG:-}" ]; then
		default_config=$JOBCTL_CONFIG
	elif [ -n "${JOBCTL_HOME:-}" ]; then
		default_config=$JOBCTL_HOME/jobctl.toml
	else
		default_config=$config_home/jobctl/jobctl.toml
	fi
	case ${XDG_STATE_HOME:-} in
	/*) state_home=$XDG_STATE_HOME ;;
	*) state_home=$HOME/.local/state ;;
	esac
fi

prefix=$(absolute "$(expand_path "$prefix")")
default_config=$(absolute "$(expand_path "$default_config")")
config=$(absolute "$(expand_path "${config:-$default_config}")")
bindir=$prefix/bin
dest_bin=$bindir/jobctl
state_dir=$state_home/jobctl

if [ -d "$config" ]; then
	die "--config must name a file, and $config is a directory"
fi

# How to call jobctl by hand so that it finds the same config as the tick.
if [ "$config" = "$default_config" ]; then
	jobctl_cmd=jobctl
else
	jobctl_cmd="jobctl --config $config"
fi

svc_path=""
path_add "$bindir"
if [ "$os" = Darwin ]; then path_add /opt/homebrew/bin; fi
path_add /usr/local/bin
path_add /usr/bin
path_add /bin

if [ "$os" = Darwin ]; then
	plist=$HOME/Library/LaunchAgents/$label.plist
	logdir=$HOME/Library/Logs/jobctl
	domain=gui/$(id -u)
	tick_kind="LaunchAgent $label"
elif [ "$system" = 1 ]; then
	unit_dir=/etc/systemd/system
	sysctl=(systemctl)
	tick_kind="systemd system timer jobctl.timer (jobs run as $run_as)"
else
	unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
	sysctl=(systemctl --user)
	tick_kind="systemd user timer jobctl.timer"
fi

# Refused before anything is changed, not halfway through.
if [ "$os" = Linux ] && [ "$no_service" = 0 ] && [ "$uninstall" = 0 ]; then
	check_systemd_safe "the binary path" "$dest_bin"
	check_systemd_safe "the config path" "$config"
	check_systemd_safe "the PATH" "$svc_path"
	check_systemd_safe "the state directory" "$state_home"
fi

if [ "$dry_run" = 1 ]; then
	say "dry run: nothing is changed, this is what would be done"
fi

# ---- uninstall ------------------------------------------------------------------

systemd_usable() {
	command -v systemctl >/dev/null 2>&1 || return 1
	if [ "$system" = 1 ]; then
		[ -d /run/systemd/system ]
	else
		systemctl --user show-environment >/dev/null 2>&1
	fi
}

uninstall() {
	say "uninstalling jobctl ($os)"
	if [ "$no_service" = 1 ]; then
		: # the binary only
	elif [ "$os" = Darwin ]; then
		if [ "$dry_run" = 1 ]; then
			say "would run: launchctl bootout $domain/$label"
		elif command -v launchctl >/dev/null 2>&1; then
			# Fails when the agent is not loaded, which is what we want anyway.
			launchctl bootout "$domain/$label" 2>/dev/null || true
			say "unloaded $label (if it was loaded)"
		fi
		remove_file "$plist"
	else
		local unit=$unit_dir/jobctl.service ran_bin
		if [ -f "$unit" ]; then
			ran_bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
			if [ -n "$ran_bin" ] && [ "$ran_bin" != "$dest_bin" ]; then
				warn "the service ran $ran_bin, not $dest_bin; remove that one by hand (or pass the --prefix it was installed with)"
			fi
		fi
		local reachable=0
		if [ "$dry_run" = 0 ] && systemd_usable; then reachable=1; fi
		if [ "$dry_run" = 1 ] || [ "$reachable" = 1 ]; then
			# `|| true`: not enabled or already gone is fine when removing.
			run "${sysctl[@]}" disable --now jobctl.timer || true
		fi
		remove_file "$unit_dir/jobctl.timer"
		remove_file "$unit"
		remove_file "$unit_dir/timers.target.wants/jobctl.timer"
		if [ "$dry_run" = 1 ] || [ "$reachable" = 1 ]; then
			run "${sysctl[@]}" daemon-reload || true
			if [ "$dry_run" = 0 ]; then
				"${sysctl[@]}" reset-failed jobctl.service jobctl.timer >/dev/null 2>&1 || true
			fi
		else
			warn "could not reach systemd (${sysctl[*]}); if the timer is still loaded somewhere, run: ${sysctl[*]} disable --now jobctl.timer && ${sysctl[*]} daemon-reload"
		fi
	fi
	if [ -e "$dest_bin" ]; then
		remove_file "$dest_bin"
	else
		say "no binary at $dest_bin (pass the --prefix it was installed with)"
	fi
	# Config snapshots are derived from the config: nothing in them is worth keeping.
	local cache snapshot
	for cache in "${XDG_CACHE_HOME:-$HOME/.cache}/jobctl" "$user_home/.cache/jobctl"; do
		[ -d "$cache" ] || continue
		for snapshot in "$cache"/config-*.bin; do
			remove_file "$snapshot"
		done
		if [ "$dry_run" = 0 ]; then
			rmdir "$cache" 2>/dev/null || true
		fi
	done
	say ""
	say "kept your config ($config) and state ($state_dir)${logdir:+ and logs ($logdir)}:"
	say "remove them by hand if you no longer want them. Runs that were going on finish by themselves."
}

if [ "$uninstall" = 1 ]; then
	uninstall
	exit 0
fi

# ---- the binary -----------------------------------------------------------------

if [ -n "$binary" ]; then
	src_bin=$(absolute "$(expand_path "$binary")")
	[ -f "$src_bin" ] || die "--binary $src_bin: no such file"
	[ -x "$src_bin" ] || die "--binary $src_bin is not executable"
else
	[ -f "$here/Cargo.toml" ] || die "no Cargo.toml beside $prog to build from; pass --binary PATH"
	if ! command -v cargo >/dev/null 2>&1; then
		if [ "$system" = 1 ]; then
			die "cargo not found for root: build as yourself first (cargo build --release --locked) and pass --binary target/release/jobctl"
		fi
		die "cargo not found: install a Rust toolchain, or pass --binary PATH to a built jobctl"
	fi
	target_dir=${CARGO_TARGET_DIR:-target}
	case $target_dir in /*) ;; *) target_dir=$here/$target_dir ;; esac
	src_bin=$target_dir/release/jobctl
	if [ "$dry_run" = 1 ]; then
		say "would build: cargo build --release --locked (in $here)"
	else
		say "building: cargo build --release --locked (in $here)"
		(cd "$here" && cargo build --release --locked) || die "cargo build failed (see above)"
		[ -x "$src_bin" ] || die "cargo build did not produce $src_bin"
	fi
fi

version=""
if [ -x "$src_bin" ]; then
	version=$("$src_bin" --version 2>/dev/null) ||
		die "$src_bin --version failed: is it a jobctl binary built for this machine?"
fi

say "installing ${version:-jobctl} for $run_as ($os)"
if [ -f "$dest_bin" ] && [ -f "$src_bin" ] && cmp -s "$src_bin" "$dest_bin"; then
	say "unchanged $dest_bin"
elif [ "$dry_run" = 1 ]; then
	say "would install $src_bin as $dest_bin"
else
	mkdir_owned "$bindir"
	# A new file renamed into place: a tick running the old binary keeps its copy, and
	# macOS doesn't kill a signed binary that was modified in place.
	tmp_file=$(mktemp "$dest_bin.XXXXXX")
	cp "$src_bin" "$tmp_file"
	chmod 0755 "$tmp_file"
	mv -f "$tmp_file" "$dest_bin"
	tmp_file=""
	say "installed $dest_bin"
fi

# ---- the config -----------------------------------------------------------------

starter_config() {
	cat <<EOF
# jobctl configuration, written once by install.sh (it never overwrites this file).
#   check it after editing:        $jobctl_cmd check
#   the jobs and their next start: $jobctl_cmd list
# Relative paths in this file are relative to the directory holding it.

[runner]
# Jobs inherit this PATH. launchd and systemd start jobctl with a bare one, where
# Homebrew- or npm-installed tools and agent CLIs are not found: add their directories.
env = { PATH = "$(toml_escape "$svc_path")" }

# An example script job, to see the runner work: it prints one line every hour
# (\`$jobctl_cmd logs --job hello\` shows it). Delete it or make it your own.
# A command given as an array is run as is; a string runs under /bin/sh -c.
[jobs.hello]
type = "script"
command = ["echo", "hello from jobctl"]
every = "1h"
timeout = "1m"
EOF
}

if [ -e "$config" ]; then
	say "kept existing config $config"
else
	put_file "$(starter_config)" "$config" 0644 "$owner"
fi

if [ "$dry_run" = 0 ]; then
	if check_out=$("$dest_bin" check --config "$config" 2>&1); then
		say "${check_out:-config ok}"
	else
		printf '%s\n' "$check_out" >&2
		warn "$config does not pass \`jobctl check\`: every tick will refuse to run until it is fixed"
	fi
fi

if [ "${JOBCTL_HOME:-}" != "" ] && [ "$system" = 0 ] && [ "$no_service" = 0 ]; then
	warn "JOBCTL_HOME is set in this shell, but the tick doesn't get it: it keeps its state in $state_dir; set [runner] state_dir in the config so that both agree"
fi

# ---- the tick -------------------------------------------------------------------

install_systemd() {
	local service timer
	service=$(cat "$here/systemd/jobctl.service.in")
	service=$(replace_all "$service" @BIN@ "$dest_bin")
	service=$(replace_all "$service" @CONFIG@ "$config")
	service=$(replace_all "$service" @PATH@ "$svc_path")
	service=$(replace_all "$service" @STATE_HOME@ "$state_home")
	if [ "$system" = 1 ]; then
		service=$(replace_all "$service" "${nl}[Service]${nl}" "${nl}[Service]${nl}User=$run_as${nl}")
	fi
	if printf '%s\n' "$service" | grep -q '@[A-Z_][A-Z_]*@'; then
		die "systemd/jobctl.service.in has a placeholder this script doesn't fill"
	fi
	timer=$(cat "$here/systemd/jobctl.timer")

	put_file "$service" "$unit_dir/jobctl.service" 0644
	put_file "$timer" "$unit_dir/jobctl.timer" 0644

	local by_hand="  ${sysctl[*]} daemon-reload${nl}  ${sysctl[*]} enable --now jobctl.timer"
	local where="Once systemd runs, run:${nl}$by_hand"
	if [ "$dry_run" = 1 ]; then
		run "${sysctl[@]}" daemon-reload
		run "${sysctl[@]}" enable --now jobctl.timer
		return 0
	fi
	if ! command -v systemctl >/dev/null 2>&1; then
		needs_manual "systemctl not found: this system does not run systemd" "$where"
		return 0
	fi
	if [ "$system" = 1 ]; then
		if [ ! -d /run/systemd/system ]; then
			needs_manual "systemd is not running here (no /run/systemd/system)" "$where"
			return 0
		fi
	else
		local err
		if ! err=$(systemctl --user show-environment 2>&1 >/dev/null); then
			needs_manual "there is no systemd user session for $run_as (systemctl --user: ${err:-no answer})" \
				"Log in as $run_as (at the console or over ssh; su and sudo give no user session), then run:${nl}$by_hand"
			return 0
		fi
	fi
	if ! run "${sysctl[@]}" daemon-reload; then
		needs_manual "${sysctl[*]} daemon-reload failed (see above)" "Fix that, then run:${nl}$by_hand"
		return 0
	fi
	if ! run "${sysctl[@]}" enable --now jobctl.timer; then
		needs_manual "${sysctl[*]} enable --now jobctl.timer failed (see above)" "Fix that, then run:${nl}$by_hand"
		return 0
	fi
	if [ "$system" = 0 ] && command -v loginctl >/dev/null 2>&1; then
		local linger
		linger=$(loginctl show-user "$run_as" --property=Linger --value 2>/dev/null || true)
		if [ "$linger" != yes ]; then
			say "note: a user timer runs only while $run_as is logged in; to keep it running after logout: loginctl enable-linger $run_as"
		fi
	fi
}

install_launchd() {
	local text
	text=$(cat "$here/launchd/$label.plist.in")
	text=$(replace_all "$text" @BIN@ "$(xml_escape "$dest_bin")")
	text=$(replace_all "$text" @CONFIG@ "$(xml_escape "$config")")
	text=$(replace_all "$text" @HOME@ "$(xml_escape "$HOME")")
	text=$(replace_all "$text" @PATH@ "$(xml_escape "$svc_path")")
	text=$(replace_all "$text" @STATE_HOME@ "$(xml_escape "$state_home")")
	text=$(replace_all "$text" @LOGDIR@ "$(xml_escape "$logdir")")
	if printf '%s\n' "$text" | grep -q '@[A-Z_][A-Z_]*@'; then
		die "launchd/$label.plist.in has a placeholder this script doesn't fill"
	fi

	# launchd opens the log file but does not create its directory.
	mkdir_owned "$logdir"
	put_file "$text" "$plist" 0644
	if [ "$dry_run" = 0 ] && command -v plutil >/dev/null 2>&1; then
		plutil -lint -s "$plist" || die "$plist is not a valid property list (plutil -lint)"
	fi

	local by_hand="  launchctl bootout $domain/$label   (fails harmlessly when not loaded)${nl}  launchctl bootstrap $domain $plist"
	if [ "$dry_run" = 1 ]; then
		run launchctl bootout "$domain/$label"
		run launchctl bootstrap "$domain" "$plist"
		return 0
	fi
	if ! command -v launchctl >/dev/null 2>&1; then
		needs_manual "launchctl not found" "Where launchctl works, run:${nl}$by_hand"
		return 0
	fi
	if [ "$changed" = 0 ] && launchctl print "$domain/$label" >/dev/null 2>&1; then
		say "$label is already loaded"
		return 0
	fi
	# Reload: bootout fails when it isn't loaded yet, which is fine. A disabled label
	# would refuse to bootstrap, hence enable.
	launchctl bootout "$domain/$label" >/dev/null 2>&1 || true
	launchctl enable "$domain/$label" >/dev/null 2>&1 || true
	local err="" try
	# bootout finishes asynchronously; bootstrap right after it can fail with
	# "Input/output error" until it has.
	for try in 1 2 3 4 5; do
		if err=$(launchctl bootstrap "$domain" "$plist" 2>&1); then
			say "loaded $label into $domain (launchctl bootstrap)"
			return 0
		fi
		[ "$try" = 5 ] || sleep 1
	done
	needs_manual "launchctl bootstrap $domain failed: ${err:-no message}" \
		"A LaunchAgent needs $run_as logged in at the Mac (an ssh session alone has no GUI domain); then run:${nl}$by_hand"
}

if [ "$no_service" = 1 ]; then
	say "no tick installed (--no-service)"
elif [ "$os" = Darwin ]; then
	install_launchd
else
	install_systemd
fi

# ---- what now -------------------------------------------------------------------

say ""
if [ "$dry_run" = 1 ]; then
	say "dry run: nothing was changed"
	exit 0
fi

case ":$PATH:" in
*":$bindir:"*) ;;
*) say "note: $bindir is not on your PATH: add it, or call $dest_bin" ;;
esac

if [ -n "$manual_reason" ]; then
	cat >&2 <<EOF
jobctl is installed, but the 5-minute tick is NOT running:
$manual_reason.
$manual_steps
Or run the tick from cron instead (crontab -e, as $run_as):
  */5 * * * * $dest_bin run --config $config
Or skip this step next time: $prog --no-service
EOF
	exit 1
fi

if [ "$no_service" = 1 ]; then
	say "done: run \`$dest_bin run --config $config\` every 5 minutes from a scheduler of your own."
else
	say "done: $tick_kind runs \`jobctl run\` every 5 minutes."
fi
hint() {
	printf '  %-36s %s\n' "$1" "$2"
}
hint "$jobctl_cmd list" "the jobs, their next and last runs"
hint "$jobctl_cmd status" "what runs now, agents and budgets"
hint "$jobctl_cmd logs --job hello" "the output of a job's latest run"
hint "$jobctl_cmd check" "after editing $config"
hint "$state_dir" "run logs and state"
if [ "$no_service" = 0 ]; then
	if [ "$os" = Darwin ]; then
		hint "$logdir/jobctl.log" "the tick's own messages"
	elif [ "$system" = 1 ]; then
		hint "journalctl -u jobctl.service" "the tick's own messages"
	else
		hint "journalctl --user -u jobctl.service" "the tick's own messages"
	fi
fi
