#!/usr/bin/env bash
# Install jobctl: the binary, its shell completions and man pages, a starter config
# (never overwritten), and the tick that runs `jobctl run` every 5 minutes: a systemd
# timer on Linux, a LaunchAgent on macOS. With --scheduler, `jobctl scheduler` kept
# running instead (each job on its slot): a systemd service or a KeepAlive LaunchAgent.
# With --with-console also `jobctl serve` (the control API and the web console), kept
# running as jobctl-serve.service or the LaunchAgent com.jobctl.serve.
# Running it again gives the same result; --uninstall takes it all away again except
# the config and the state. `./install.sh --help` lists the options.
#
# Written for bash 3.2 as well (the /bin/bash of macOS): no associative arrays, no
# empty arrays under `set -u`, no ${var,,}, no mapfile.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
label=com.jobctl.run
serve_label=com.jobctl.serve
sched_label=com.jobctl.scheduler
default_listen=127.0.0.1:7878
nl=$'\n'

usage() {
	cat <<EOF
Usage: $prog [options]

Installs jobctl (with its shell completions and man pages) and schedules \`jobctl run\`
every 5 minutes (systemd timer on Linux, LaunchAgent on macOS), or with --scheduler
keeps \`jobctl scheduler\` running. Writes a starter config if there is none; never
overwrites one.
With --with-console it also keeps \`jobctl serve\` running: the control API and the web
console, on http://$default_listen by default.

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
  --scheduler      keep \`jobctl scheduler\` running (each job on its slot, to the
                   second) instead of the 5-minute timer: a systemd service
                   (Type=notify) or a LaunchAgent with KeepAlive; replaces the timer,
                   and installing without it replaces the scheduler with the timer
  --with-console   also install and start the server of the API and the web console
                   (jobctl-serve.service, or the LaunchAgent $serve_label)
  --listen ADDR    with --with-console: the IP:PORT it listens on (default
                   $default_listen; anything but loopback needs TLS in front)
  --uninstall      remove the timer or agent (and the console's, if installed), the
                   binary and config snapshots; keeps config and state
  --dry-run        print what would be done and change nothing
  -h, --help       show this help

Examples:
  ./install.sh                                 build, install for you, start the tick
  ./install.sh --binary target/release/jobctl --config ~/jobs/jobctl.toml
  ./install.sh --scheduler                     jobs on their minute, not every 5 minutes
  ./install.sh --with-console                  the tick, and the console on port 7878
  ./install.sh --with-console --listen 127.0.0.1:8080
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

prefix="" binary="" config="" run_as="" listen=""
system=0 no_service=0 uninstall=0 dry_run=0 with_console=0 listen_given=0 scheduler=0

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
	--scheduler) scheduler=1; shift ;;
	--with-console) with_console=1; shift ;;
	--listen) need_value "$@"; listen=$2; listen_given=1; shift 2 ;;
	--listen=*) listen=${1#*=}; listen_given=1; shift ;;
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

# listen_ok ADDR: whether ADDR is an address `jobctl serve --listen` takes: IPv4:PORT
# or [IPv6]:PORT, no host names. It also keeps the unit and the plist free of anything
# they would have to quote.
listen_ok() {
	local host port rest octet
	case $1 in *:*) ;; *) return 1 ;; esac
	host=${1%:*} port=${1##*:}
	case $port in '' | 0* | *[!0-9]*) return 1 ;; esac
	[ "${#port}" -le 5 ] && [ "$((10#$port))" -ge 1 ] && [ "$((10#$port))" -le 65535 ] || return 1
	case $host in
	\[*:*\])
		host=${host#?}
		host=${host%?}
		case $host in *[!0-9a-fA-F:.]*) return 1 ;; esac
		;;
	*[!0-9.]* | *.*.*.*.* | *..* | .* | *.) return 1 ;;
	*.*.*.*)
		rest=$host.
		while [ -n "$rest" ]; do
			octet=${rest%%.*}
			rest=${rest#*.}
			case $octet in 0?*) return 1 ;; esac
			[ "${#octet}" -le 3 ] && [ "$((10#$octet))" -le 255 ] || return 1
		done
		;;
	*) return 1 ;;
	esac
}

is_loopback() {
	case $1 in
	127.* | \[::1\]:*) return 0 ;;
	*) return 1 ;;
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
tmp_file="" tmp_dir=""
trap 'if [ -n "$tmp_file" ]; then rm -f "$tmp_file"; fi; if [ -n "$tmp_dir" ]; then rm -rf "$tmp_dir"; fi' EXIT

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

# Set when the tick (or the console) could not be started here; the end of the run
# says what to do. `manual_what` is "tick" when the tick isn't running (nor the console,
# with --with-console), "console" when only the console isn't.
manual_reason=""
manual_steps=""
manual_what=""

needs_manual() {
	manual_reason=$1
	manual_steps=$2
	manual_what=${3:-tick}
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
if [ "$listen_given" = 1 ] && [ "$with_console" = 0 ]; then
	usage_error "--listen only goes with --with-console"
fi
if [ "$with_console" = 1 ] && [ "$no_service" = 1 ]; then
	usage_error "--with-console and --no-service contradict each other: the console is a service"
fi
if [ "$scheduler" = 1 ] && [ "$no_service" = 1 ]; then
	usage_error "--scheduler and --no-service contradict each other: the scheduler is a service"
fi
if [ "$listen_given" = 1 ] && [ -z "$listen" ]; then
	usage_error "--listen needs a value"
fi
listen=${listen:-$default_listen}
if ! listen_ok "$listen"; then
	usage_error "--listen '$listen' is not an address jobctl serve takes: IP:PORT such as $default_listen or [::1]:7878 (no host names, spaces or quotes)"
fi
if [ "$system" = 1 ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "--system writes to /etc/systemd/system: run it as root (sudo $0 --system ...)"
fi
if [ "$system" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" = 0 ]; then
	die "under sudo this would install for root; run it as yourself, or use --system for a system-wide timer"
fi
if [ "$uninstall" = 0 ] && [ "$(id -u)" = 0 ] && [ -z "${SUDO_USER:-}" ] && [ "$system" = 0 ]; then
	warn "installing as root: every job will run as root, and agent CLIs refuse that (claude won't run unattended under root); install as a normal user, or with --system --run-as USER"
fi
if [ "$with_console" = 1 ] && [ "$uninstall" = 0 ] && ! is_loopback "$listen"; then
	warn "--listen $listen is not a loopback address: the API and the console will be reachable from other machines over plain HTTP, tokens included; put a TLS proxy in front of it"
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
	if [ "$run_as" = root ] && [ "$uninstall" = 0 ]; then
		warn "--run-as root: every job will run as root, and agent CLIs refuse that (claude won't run unattended under root); pass --run-as USER"
	fi
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

# Where each shell and man look for what they load by themselves: man finds
# PREFIX/share/man from PREFIX/bin on PATH; bash-completion and fish look in the user's
# XDG directories, or in PREFIX/share for everyone. zsh has no user directory of its own:
# the one used here must be on fpath (the end of the run says so to a zsh user).
man_dir=$prefix/share/man
if [ "$system" = 1 ]; then
	bash_completion=$prefix/share/bash-completion/completions/jobctl
	zsh_completion=$prefix/share/zsh/site-functions/_jobctl
	fish_completion=$prefix/share/fish/vendor_completions.d/jobctl.fish
else
	case ${XDG_DATA_HOME:-} in
	/*) data_home=$XDG_DATA_HOME ;;
	*) data_home=$HOME/.local/share ;;
	esac
	bash_completion=$data_home/bash-completion/completions/jobctl
	zsh_completion=$data_home/zsh/site-functions/_jobctl
	fish_completion=$config_home/fish/completions/jobctl.fish
fi

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
	serve_plist=$HOME/Library/LaunchAgents/$serve_label.plist
	sched_plist=$HOME/Library/LaunchAgents/$sched_label.plist
	logdir=$HOME/Library/Logs/jobctl
	domain=gui/$(id -u)
	tick_kind="LaunchAgent $label"
	serve_kind="LaunchAgent $serve_label"
	serve_log_hint=$logdir/serve.log
	sched_kind="LaunchAgent $sched_label"
	sched_log_hint=$logdir/scheduler.log
elif [ "$system" = 1 ]; then
	unit_dir=/etc/systemd/system
	sysctl=(systemctl)
	tick_kind="systemd system timer jobctl.timer (jobs run as $run_as)"
	serve_kind="systemd system service jobctl-serve.service"
	serve_log_hint="journalctl -u jobctl-serve.service"
	sched_kind="systemd system service jobctl-scheduler.service (jobs run as $run_as)"
	sched_log_hint="journalctl -u jobctl-scheduler.service"
	# What starts at boot; a system manager's default.target may be graphical.target.
	wanted_by=multi-user.target
else
	unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
	sysctl=(systemctl --user)
	tick_kind="systemd user timer jobctl.timer"
	serve_kind="systemd user service jobctl-serve.service"
	serve_log_hint="journalctl --user -u jobctl-serve.service"
	sched_kind="systemd user service jobctl-scheduler.service"
	sched_log_hint="journalctl --user -u jobctl-scheduler.service"
	# The user manager has no multi-user.target: default.target is what it starts.
	wanted_by=default.target
fi
if [ "$os" = Linux ]; then
	serve_unit=$unit_dir/jobctl-serve.service
	sched_unit=$unit_dir/jobctl-scheduler.service
fi

# Where a browser on this machine finds the console: an "every address" listen is
# reached on loopback.
console_url=$listen
case $console_url in
0.0.0.0:*) console_url=127.0.0.1:${listen##*:} ;;
\[::\]:*) console_url="[::1]:${listen##*:}" ;;
esac
console_url=http://$console_url

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

# unload_agent LABEL PLIST: unload a LaunchAgent and remove its plist.
unload_agent() {
	if [ "$dry_run" = 1 ]; then
		say "would run: launchctl bootout $domain/$1"
	elif command -v launchctl >/dev/null 2>&1; then
		# Fails when the agent is not loaded, which is what we want anyway.
		launchctl bootout "$domain/$1" 2>/dev/null || true
		say "unloaded $1 (if it was loaded)"
	fi
	remove_file "$2"
}

uninstall() {
	say "uninstalling jobctl ($os)"
	if [ "$no_service" = 1 ]; then
		: # the binary only
	elif [ "$os" = Darwin ]; then
		# The console goes too, whether or not --with-console is given.
		if [ -f "$serve_plist" ]; then
			unload_agent "$serve_label" "$serve_plist"
		fi
		if [ -f "$sched_plist" ]; then
			unload_agent "$sched_label" "$sched_plist"
		fi
		unload_agent "$label" "$plist"
	else
		local unit=$unit_dir/jobctl.service ran_bin
		# The console goes too, whether or not --with-console is given.
		local had_serve=0 had_sched=0 units="jobctl.timer"
		if [ -f "$serve_unit" ]; then
			had_serve=1
			units="$units jobctl-serve.service"
		fi
		if [ -f "$sched_unit" ]; then
			had_sched=1
			units="$units jobctl-scheduler.service"
		fi
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
			if [ "$had_serve" = 1 ]; then
				run "${sysctl[@]}" disable --now jobctl-serve.service || true
			fi
			if [ "$had_sched" = 1 ]; then
				run "${sysctl[@]}" disable --now jobctl-scheduler.service || true
			fi
		fi
		remove_file "$unit_dir/jobctl.timer"
		remove_file "$unit"
		remove_file "$unit_dir/timers.target.wants/jobctl.timer"
		remove_file "$serve_unit"
		remove_file "$unit_dir/default.target.wants/jobctl-serve.service"
		remove_file "$unit_dir/multi-user.target.wants/jobctl-serve.service"
		remove_file "$sched_unit"
		remove_file "$unit_dir/default.target.wants/jobctl-scheduler.service"
		remove_file "$unit_dir/multi-user.target.wants/jobctl-scheduler.service"
		if [ "$dry_run" = 1 ] || [ "$reachable" = 1 ]; then
			run "${sysctl[@]}" daemon-reload || true
			if [ "$dry_run" = 0 ]; then
				"${sysctl[@]}" reset-failed jobctl.service jobctl.timer >/dev/null 2>&1 || true
				if [ "$had_serve" = 1 ]; then
					"${sysctl[@]}" reset-failed jobctl-serve.service >/dev/null 2>&1 || true
				fi
				if [ "$had_sched" = 1 ]; then
					"${sysctl[@]}" reset-failed jobctl-scheduler.service >/dev/null 2>&1 || true
				fi
			fi
		else
			warn "could not reach systemd (${sysctl[*]}); if the units are still loaded somewhere, run: ${sysctl[*]} disable --now $units && ${sysctl[*]} daemon-reload"
		fi
	fi
	remove_file "$bash_completion"
	remove_file "$zsh_completion"
	remove_file "$fish_completion"
	local page pages=0
	for page in "$man_dir"/man1/jobctl.1 "$man_dir"/man1/jobctl-*.1 "$man_dir"/man5/jobctl.toml.5; do
		if [ -f "$page" ]; then
			if [ "$dry_run" = 0 ]; then rm -f "$page"; fi
			pages=$((pages + 1))
		fi
	done
	if [ "$pages" -gt 0 ]; then
		if [ "$dry_run" = 1 ]; then say "would remove $pages man pages under $man_dir"; else say "removed $pages man pages under $man_dir"; fi
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
# A running server keeps the binary it started with: a new one means a restart.
bin_changed=1
if [ -f "$dest_bin" ] && [ -f "$src_bin" ] && cmp -s "$src_bin" "$dest_bin"; then
	say "unchanged $dest_bin"
	bin_changed=0
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
	# 0600, as `jobctl init` writes it: a config soon holds tokens and webhook URLs.
	put_file "$(starter_config)" "$config" 0600 "$owner"
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

# ---- completions and man pages ------------------------------------------------

# install_docs: the installed binary's completion scripts and man pages, where the shells
# and man find them by themselves. Written only when they would change.
install_docs() {
	if [ "$dry_run" = 1 ]; then
		say "would write the completions $bash_completion, $zsh_completion, $fish_completion"
		say "would write the man pages jobctl(1), jobctl-COMMAND(1), jobctl.toml(5) under $man_dir"
		return 0
	fi
	local text
	if text=$("$dest_bin" completions bash); then
		put_file "$text" "$bash_completion" 0644
	else
		warn "$dest_bin completions bash failed: no bash completion installed"
	fi
	if text=$("$dest_bin" completions zsh); then
		# Autoloaded from fpath, the file runs as the function _jobctl at the first <Tab>:
		# it defines the completer and binds it, and then completes this first time too.
		text="$text${nl}[[ \$funcstack[1] == _jobctl ]] && _clap_dynamic_completer_jobctl \"\$@\""
		put_file "$text" "$zsh_completion" 0644
	else
		warn "$dest_bin completions zsh failed: no zsh completion installed"
	fi
	if text=$("$dest_bin" completions fish); then
		put_file "$text" "$fish_completion" 0644
	else
		warn "$dest_bin completions fish failed: no fish completion installed"
	fi

	tmp_dir=$(mktemp -d)
	if ! "$dest_bin" man --dir "$tmp_dir" >/dev/null; then
		warn "$dest_bin man --dir failed: no man pages installed"
		rm -rf "$tmp_dir"
		tmp_dir=""
		return 0
	fi
	local page rel written=0 unchanged=0
	for page in "$tmp_dir"/man1/*.1 "$tmp_dir"/man5/*.5; do
		rel=${page#"$tmp_dir"/}
		if [ -f "$man_dir/$rel" ] && cmp -s "$page" "$man_dir/$rel"; then
			unchanged=$((unchanged + 1))
			continue
		fi
		mkdir_owned "$(dirname "$man_dir/$rel")"
		# Copied next to its place and renamed into it: man never reads half a page.
		tmp_file=$(mktemp "$man_dir/$rel.XXXXXX")
		cp "$page" "$tmp_file"
		chmod 0644 "$tmp_file"
		mv -f "$tmp_file" "$man_dir/$rel"
		tmp_file=""
		written=$((written + 1))
	done
	# The page of a command this version no longer has.
	for page in "$man_dir"/man1/jobctl-*.1; do
		if [ -f "$page" ] && [ ! -e "$tmp_dir/man1/${page##*/}" ]; then
			remove_file "$page"
		fi
	done
	rm -rf "$tmp_dir"
	tmp_dir=""
	if [ "$written" = 0 ]; then
		say "unchanged $unchanged man pages under $man_dir"
	else
		say "wrote $written man pages under $man_dir ($unchanged unchanged): man jobctl"
	fi
}

install_docs

# ---- the tick or the scheduler (and the console) -------------------------------

# render_unit FILE: the unit template FILE (under systemd/) with the placeholders filled.
render_unit() {
	local text
	text=$(cat "$here/systemd/$1")
	text=$(replace_all "$text" @BIN@ "$dest_bin")
	text=$(replace_all "$text" @CONFIG@ "$config")
	text=$(replace_all "$text" @PATH@ "$svc_path")
	text=$(replace_all "$text" @STATE_HOME@ "$state_home")
	text=$(replace_all "$text" @LISTEN@ "$listen")
	text=$(replace_all "$text" @WANTED_BY@ "$wanted_by")
	if [ "$system" = 1 ]; then
		text=$(replace_all "$text" "${nl}[Service]${nl}" "${nl}[Service]${nl}User=$run_as${nl}")
	fi
	if printf '%s\n' "$text" | grep -q '@[A-Z_][A-Z_]*@'; then
		die "systemd/$1 has a placeholder this script doesn't fill"
	fi
	printf '%s' "$text"
}

# The service that keeps the schedule: jobctl.timer (the tick every 5 minutes), or with
# --scheduler jobctl-scheduler.service. Installing one removes the other.
if [ "$scheduler" = 1 ]; then
	main_unit=jobctl-scheduler.service
	other_unit=jobctl.timer
else
	main_unit=jobctl.timer
	other_unit=jobctl-scheduler.service
fi

# remove_other_units: the files of the kind not installed, and their enablement links.
remove_other_units() {
	if [ "$scheduler" = 1 ]; then
		remove_file "$unit_dir/jobctl.timer"
		remove_file "$unit_dir/jobctl.service"
		remove_file "$unit_dir/timers.target.wants/jobctl.timer"
	else
		remove_file "$sched_unit"
		remove_file "$unit_dir/default.target.wants/jobctl-scheduler.service"
		remove_file "$unit_dir/multi-user.target.wants/jobctl-scheduler.service"
	fi
}

install_systemd() {
	local serve="" other_existed=0 main_restart=0
	if [ "$scheduler" = 1 ]; then
		if [ -f "$unit_dir/jobctl.timer" ] || [ -f "$unit_dir/jobctl.service" ]; then other_existed=1; fi
		local sched_existed=0
		if [ -f "$sched_unit" ]; then sched_existed=1; fi
		put_file "$(render_unit jobctl-scheduler.service.in)" "$sched_unit" 0644
		# A running scheduler keeps the settings and the binary it started with.
		if [ "$sched_existed" = 1 ] && { [ "$changed" = 1 ] || [ "$bin_changed" = 1 ]; }; then
			main_restart=1
		fi
	else
		if [ -f "$sched_unit" ]; then other_existed=1; fi
		put_file "$(render_unit jobctl.service.in)" "$unit_dir/jobctl.service" 0644
		put_file "$(cat "$here/systemd/jobctl.timer")" "$unit_dir/jobctl.timer" 0644
	fi
	if [ "$with_console" = 1 ]; then
		serve=$(render_unit jobctl-serve.service.in)
	fi

	# The server is restarted when it runs with settings or a binary that are no longer
	# the installed ones; a new unit is simply started.
	local serve_restart=0
	if [ "$with_console" = 1 ]; then
		local serve_existed=0
		if [ -f "$serve_unit" ]; then serve_existed=1; fi
		put_file "$serve" "$serve_unit" 0644
		if [ "$serve_existed" = 1 ] && { [ "$changed" = 1 ] || [ "$bin_changed" = 1 ]; }; then
			serve_restart=1
		fi
	elif [ -f "$serve_unit" ]; then
		say "kept $serve_unit (installed with --with-console; --uninstall removes it)"
		if [ "$bin_changed" = 1 ]; then serve_restart=1; fi
	fi

	local by_hand="  ${sysctl[*]} daemon-reload"
	if [ "$other_existed" = 1 ]; then
		by_hand="  ${sysctl[*]} stop $other_unit${nl}$by_hand"
	fi
	if [ "$main_restart" = 1 ]; then
		by_hand="$by_hand${nl}  ${sysctl[*]} restart $main_unit"
	fi
	by_hand="$by_hand${nl}  ${sysctl[*]} enable --now $main_unit"
	local serve_by_hand="  ${sysctl[*]} enable --now jobctl-serve.service"
	if [ "$serve_restart" = 1 ]; then
		serve_by_hand="  ${sysctl[*]} restart jobctl-serve.service${nl}$serve_by_hand"
	fi
	if [ "$with_console" = 1 ]; then by_hand="$by_hand${nl}$serve_by_hand"; fi
	local where="Once systemd runs, run:${nl}$by_hand"
	if [ "$dry_run" = 1 ]; then
		if [ "$other_existed" = 1 ]; then
			run "${sysctl[@]}" disable --now "$other_unit"
			remove_other_units
		fi
		run "${sysctl[@]}" daemon-reload
		if [ "$main_restart" = 1 ]; then run "${sysctl[@]}" restart "$main_unit"; fi
		run "${sysctl[@]}" enable --now "$main_unit"
		if [ "$with_console" = 1 ]; then
			if [ "$serve_restart" = 1 ]; then run "${sysctl[@]}" restart jobctl-serve.service; fi
			run "${sysctl[@]}" enable --now jobctl-serve.service
		elif [ "$serve_restart" = 1 ]; then
			run "${sysctl[@]}" try-restart jobctl-serve.service
		fi
		return 0
	fi
	local unreachable="" steps=$where err
	if ! command -v systemctl >/dev/null 2>&1; then
		unreachable="systemctl not found: this system does not run systemd"
	elif [ "$system" = 1 ]; then
		if [ ! -d /run/systemd/system ]; then
			unreachable="systemd is not running here (no /run/systemd/system)"
		fi
	elif ! err=$(systemctl --user show-environment 2>&1 >/dev/null); then
		unreachable="there is no systemd user session for $run_as (systemctl --user: ${err:-no answer})"
		steps="Log in as $run_as (at the console or over ssh; su and sudo give no user session), then run:${nl}$by_hand"
	fi
	# The other kind goes either way: stopped first where systemd can be reached (its
	# unit file is still needed for that), its files removed in any case.
	if [ "$other_existed" = 1 ]; then
		if [ -z "$unreachable" ]; then
			run "${sysctl[@]}" disable --now "$other_unit" || true
		fi
		remove_other_units
	fi
	if [ -n "$unreachable" ]; then
		needs_manual "$unreachable" "$steps"
		return 0
	fi
	if ! run "${sysctl[@]}" daemon-reload; then
		needs_manual "${sysctl[*]} daemon-reload failed (see above)" "Fix that, then run:${nl}$by_hand"
		return 0
	fi
	# restart starts it as well; enable --now then makes it start with the service manager.
	if [ "$main_restart" = 1 ] && ! run "${sysctl[@]}" restart "$main_unit"; then
		needs_manual "${sysctl[*]} restart $main_unit failed (see above; $sched_log_hint says why)" \
			"Fix that, then run:${nl}$by_hand"
		return 0
	fi
	if ! run "${sysctl[@]}" enable --now "$main_unit"; then
		needs_manual "${sysctl[*]} enable --now $main_unit failed (see above)" "Fix that, then run:${nl}$by_hand"
		return 0
	fi
	if [ "$with_console" = 1 ]; then
		# restart starts it as well; enable --now then only makes it start with the
		# service manager, and starts it if it wasn't running.
		if [ "$serve_restart" = 1 ] && ! run "${sysctl[@]}" restart jobctl-serve.service; then
			needs_manual "${sysctl[*]} restart jobctl-serve.service failed (see above; ${serve_log_hint} says why)" \
				"Fix that, then run:${nl}$serve_by_hand" console
			return 0
		fi
		if ! run "${sysctl[@]}" enable --now jobctl-serve.service; then
			needs_manual "${sysctl[*]} enable --now jobctl-serve.service failed (see above; ${serve_log_hint} says why)" \
				"Fix that, then run:${nl}$serve_by_hand" console
			return 0
		fi
	elif [ "$serve_restart" = 1 ]; then
		# Only if it runs: it was installed, but this run wasn't asked for the console.
		run "${sysctl[@]}" try-restart jobctl-serve.service ||
			warn "jobctl-serve.service may still run the previous binary: ${sysctl[*]} restart jobctl-serve.service"
	fi
	if [ "$system" = 0 ] && command -v loginctl >/dev/null 2>&1; then
		local linger
		linger=$(loginctl show-user "$run_as" --property=Linger --value 2>/dev/null || true)
		if [ "$linger" != yes ]; then
			if [ "$with_console" = 1 ] || [ "$scheduler" = 1 ]; then
				say "note: user units run only while $run_as is logged in; to keep them running after logout: loginctl enable-linger $run_as"
			else
				say "note: a user timer runs only while $run_as is logged in; to keep it running after logout: loginctl enable-linger $run_as"
			fi
		fi
	fi
}

# render_plist LABEL: the plist template launchd/LABEL.plist.in with the placeholders
# filled, XML-escaped.
render_plist() {
	local text
	text=$(cat "$here/launchd/$1.plist.in")
	text=$(replace_all "$text" @BIN@ "$(xml_escape "$dest_bin")")
	text=$(replace_all "$text" @CONFIG@ "$(xml_escape "$config")")
	text=$(replace_all "$text" @HOME@ "$(xml_escape "$HOME")")
	text=$(replace_all "$text" @PATH@ "$(xml_escape "$svc_path")")
	text=$(replace_all "$text" @STATE_HOME@ "$(xml_escape "$state_home")")
	text=$(replace_all "$text" @LOGDIR@ "$(xml_escape "$logdir")")
	text=$(replace_all "$text" @LISTEN@ "$(xml_escape "$listen")")
	if printf '%s\n' "$text" | grep -q '@[A-Z_][A-Z_]*@'; then
		die "launchd/$1.plist.in has a placeholder this script doesn't fill"
	fi
	printf '%s' "$text"
}

lint_plist() {
	if [ "$dry_run" = 0 ] && command -v plutil >/dev/null 2>&1; then
		plutil -lint -s "$1" || die "$1 is not a valid property list (plutil -lint)"
	fi
}

agent_by_hand() {
	printf '  launchctl bootout %s   (fails harmlessly when not loaded)\n  launchctl bootstrap %s %s' \
		"$domain/$1" "$domain" "$2"
}

# load_agent LABEL PLIST RELOAD: load a LaunchAgent, booting it out first. With RELOAD
# 0, an agent that is loaded already is left alone. Fails with the reason in `agent_err`.
agent_err=""
load_agent() {
	local agent=$1 agent_plist=$2 reload=$3
	if [ "$reload" = 0 ] && launchctl print "$domain/$agent" >/dev/null 2>&1; then
		say "$agent is already loaded"
		return 0
	fi
	# Reload: bootout fails when it isn't loaded yet, which is fine. A disabled label
	# would refuse to bootstrap, hence enable.
	launchctl bootout "$domain/$agent" >/dev/null 2>&1 || true
	launchctl enable "$domain/$agent" >/dev/null 2>&1 || true
	local try
	agent_err=""
	# bootout finishes asynchronously; bootstrap right after it can fail with
	# "Input/output error" until it has.
	for try in 1 2 3 4 5; do
		if agent_err=$(launchctl bootstrap "$domain" "$agent_plist" 2>&1); then
			say "loaded $agent into $domain (launchctl bootstrap)"
			return 0
		fi
		[ "$try" = 5 ] || sleep 1
	done
	agent_err=${agent_err:-no message}
	return 1
}

install_launchd() {
	local text serve_text="" main_label main_plist other_label other_plist main_changed serve_reload=0
	if [ "$scheduler" = 1 ]; then
		main_label=$sched_label main_plist=$sched_plist other_label=$label other_plist=$plist
	else
		main_label=$label main_plist=$plist other_label=$sched_label other_plist=$sched_plist
	fi
	text=$(render_plist "$main_label")
	if [ "$with_console" = 1 ]; then
		serve_text=$(render_plist "$serve_label")
	fi

	# launchd opens the log file but does not create its directory.
	mkdir_owned "$logdir"
	put_file "$text" "$main_plist" 0644
	main_changed=$changed
	# A running scheduler keeps the binary it started with; each tick starts the new one.
	if [ "$scheduler" = 1 ] && [ "$bin_changed" = 1 ]; then main_changed=1; fi
	lint_plist "$main_plist"
	# Reloaded when it runs with settings or a binary that are no longer the installed
	# ones (a new agent is loaded anyway).
	if [ "$with_console" = 1 ]; then
		put_file "$serve_text" "$serve_plist" 0644
		lint_plist "$serve_plist"
		if [ "$changed" = 1 ] || [ "$bin_changed" = 1 ]; then serve_reload=1; fi
	elif [ -f "$serve_plist" ]; then
		say "kept $serve_plist (installed with --with-console; --uninstall removes it)"
	fi
	# The tick or the scheduler: installing one removes the other.
	if [ -f "$other_plist" ]; then
		unload_agent "$other_label" "$other_plist"
	fi

	local by_hand serve_by_hand
	by_hand=$(agent_by_hand "$main_label" "$main_plist")
	serve_by_hand=$(agent_by_hand "$serve_label" "$serve_plist")
	if [ "$with_console" = 1 ]; then by_hand="$by_hand${nl}$serve_by_hand"; fi
	if [ "$dry_run" = 1 ]; then
		run launchctl bootout "$domain/$main_label"
		run launchctl bootstrap "$domain" "$main_plist"
		if [ "$with_console" = 1 ]; then
			run launchctl bootout "$domain/$serve_label"
			run launchctl bootstrap "$domain" "$serve_plist"
		fi
		return 0
	fi
	if ! command -v launchctl >/dev/null 2>&1; then
		needs_manual "launchctl not found" "Where launchctl works, run:${nl}$by_hand"
		return 0
	fi
	local gui="A LaunchAgent needs $run_as logged in at the Mac (an ssh session alone has no GUI domain); then run:"
	if ! load_agent "$main_label" "$main_plist" "$main_changed"; then
		needs_manual "launchctl bootstrap $domain failed: $agent_err" "$gui${nl}$by_hand"
		return 0
	fi
	if [ "$with_console" = 1 ]; then
		if ! load_agent "$serve_label" "$serve_plist" "$serve_reload"; then
			needs_manual "launchctl bootstrap $domain failed for $serve_label: $agent_err" \
				"$gui${nl}$serve_by_hand${nl}Why it stopped, if it started: $serve_log_hint" console
		fi
	elif [ -f "$serve_plist" ] && [ "$bin_changed" = 1 ] &&
		launchctl print "$domain/$serve_label" >/dev/null 2>&1; then
		# Only if it runs: it was installed, but this run wasn't asked for the console.
		load_agent "$serve_label" "$serve_plist" 1 ||
			warn "$serve_label may still run the previous binary: $agent_err"
	fi
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

if [ "$scheduler" = 1 ]; then
	what_runs="the scheduler" schedule_kind=$sched_kind
else
	what_runs="the 5-minute tick" schedule_kind=$tick_kind
fi
if [ "$manual_what" = console ]; then
	cat >&2 <<EOF
jobctl and $what_runs are installed, but the console is NOT running:
$manual_reason.
$manual_steps
Or leave it out next time: $prog without --with-console
EOF
	exit 1
elif [ -n "$manual_reason" ]; then
	if [ "$with_console" = 1 ]; then
		not_running="$what_runs and the console are"
		skip="$prog --no-service, without --with-console"
	else
		not_running="$what_runs is"
		skip="$prog --no-service"
	fi
	if [ "$scheduler" = 1 ]; then
		instead="Or run it under a service manager of your own: $dest_bin scheduler --config $config"
	else
		instead="Or run the tick from cron instead (crontab -e, as $run_as):${nl}  */5 * * * * $dest_bin run --config $config"
	fi
	cat >&2 <<EOF
jobctl is installed, but $not_running NOT running:
$manual_reason.
$manual_steps
$instead
Or skip this step next time: $skip
EOF
	exit 1
fi

if [ "$no_service" = 1 ]; then
	say "done: run \`$dest_bin run --config $config\` every 5 minutes from a scheduler of your own."
elif [ "$scheduler" = 1 ]; then
	say "done: $schedule_kind runs \`jobctl scheduler\`: each job starts on its slot."
else
	say "done: $schedule_kind runs \`jobctl run\` every 5 minutes."
fi
if [ "$with_console" = 1 ]; then
	say "      $serve_kind serves the API and the console on $listen."
fi
hint() {
	printf '  %-42s %s\n' "$1" "$2"
}
hint "$jobctl_cmd list" "the jobs, their next and last runs"
hint "$jobctl_cmd status" "what runs now, agents and budgets"
hint "$jobctl_cmd logs --job hello" "the output of a job's latest run"
hint "$jobctl_cmd check" "after editing $config"
hint "$state_dir" "run logs and state"
if [ "$no_service" = 0 ]; then
	if [ "$scheduler" = 1 ]; then
		hint "$sched_log_hint" "the scheduler's log"
	elif [ "$os" = Darwin ]; then
		hint "$logdir/jobctl.log" "the tick's own messages"
	elif [ "$system" = 1 ]; then
		hint "journalctl -u jobctl.service" "the tick's own messages"
	else
		hint "journalctl --user -u jobctl.service" "the tick's own messages"
	fi
fi
if [ "$with_console" = 1 ]; then
	hint "$console_url" "the web console: sign in with a token"
	# The server's key is in the state of the user it runs as.
	token_cmd="$jobctl_cmd token create --scope write"
	if [ "$system" = 1 ] && [ "$run_as" != root ]; then token_cmd="sudo -u $run_as $token_cmd"; fi
	hint "$token_cmd" "a token for it (--scope read: look, don't touch)"
	hint "$serve_log_hint" "the server's own messages"
fi
hint "man jobctl" "every command; man jobctl.toml: the config"
case ${SHELL:-} in
*/zsh)
	case $zsh_completion in
	/usr/local/share/* | /usr/share/*) ;;
	*) say "note: zsh completes jobctl once ${zsh_completion%/*} is on fpath: add fpath+=(${zsh_completion%/*}) before compinit in ~/.zshrc" ;;
	esac
	;;
esac
