# Sourced by the benchmarks: one cgroup parent for every container, below
# this process's own cgroup in every hierarchy, made beforehand (so no
# runtime or engine pays for it) and removed afterwards, rmdir only.
#
#   cg_setup NAME    CG_H (hierarchies), CG_PARENT = <deepest own path>/NAME;
#                    needs a die() of the caller
#   cg_prepare       creates CG_PARENT everywhere (cpuset.cpus/mems copied
#                    from the parent, as runtimes do); CG_CREATED lists what
#                    it made, parents first
#   rmdir_cgroups    removes the containers' cgroups left below CG_PARENT
#   cg_unprepare     that, then CG_PARENT and what cg_prepare made
#
# Absolute, not relative, because crun 1.8.1 resolves a relative cgroupsPath
# from the hierarchy root on cgroup v1 (runc and berth from the caller's
# cgroup), and podman with cgroupfs wants one; containerd and Docker pass
# absolute paths anyway. On this VM the deepest own path is the memory
# hierarchy's /process_api/<id>; the others are at /.

CG_H=()
CG_CREATED=()
CG_PARENT=""

# Every hierarchy this process is in, as "MOUNTPOINT OWN_PATH" lines.
cg_hierarchies() {
	local id ctrls path first mnt_dev mnt typ opts _
	while IFS=: read -r id ctrls path; do
		if [ -z "$ctrls" ]; then
			[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && echo "/sys/fs/cgroup ${path%/}"
			continue
		fi
		first=${ctrls%%,*}
		while read -r mnt_dev mnt typ opts _; do
			[ "$typ" = cgroup ] || continue
			case ",$opts," in *",$first,"*) echo "$mnt ${path%/}"; break ;; esac
		done </proc/self/mounts
	done </proc/self/cgroup
}

cg_setup() {
	local h p deepest=""
	mapfile -t CG_H < <(cg_hierarchies)
	[ "${#CG_H[@]}" -gt 0 ] || die "no cgroup hierarchy found in /proc/self/cgroup"
	for h in "${CG_H[@]}"; do
		p=${h#* }
		[ "${#p}" -gt "${#deepest}" ] && deepest=$p
	done
	for h in "${CG_H[@]}"; do
		p=${h#* }
		case "$deepest/" in "$p/"*) ;; *) die "own cgroups are not nested ($p vs $deepest); cannot pick one cgroupsPath" ;; esac
	done
	CG_PARENT="$deepest/$1"
}

cg_prepare() {
	local h mnt d comp
	for h in "${CG_H[@]}"; do
		mnt=${h%% *}
		d=$mnt
		IFS=/ read -ra comps <<<"${CG_PARENT#/}"
		for comp in "${comps[@]}"; do
			if [ ! -d "$d/$comp" ]; then
				mkdir "$d/$comp"
				CG_CREATED+=("$d/$comp")
				if [ -f "$d/cpuset.cpus" ]; then
					cat "$d/cpuset.cpus" >"$d/$comp/cpuset.cpus"
					cat "$d/cpuset.mems" >"$d/$comp/cpuset.mems"
				fi
			fi
			d="$d/$comp"
		done
	done
}
rmdir_cgroups() { # remove the containers' cgroups left below CG_PARENT (rmdir only)
	local h mnt
	for h in "${CG_H[@]}"; do
		mnt=${h%% *}
		[ -d "$mnt$CG_PARENT" ] || continue
		find "$mnt$CG_PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}
cg_unprepare() {
	local i h
	rmdir_cgroups
	for h in "${CG_H[@]}"; do rmdir "${h%% *}$CG_PARENT" 2>/dev/null || true; done
	for ((i = ${#CG_CREATED[@]} - 1; i >= 0; i--)); do rmdir "${CG_CREATED[i]}" 2>/dev/null || true; done
}
