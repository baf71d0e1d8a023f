#!/usr/bin/env bash
# Real C and C++ builds to measure and test on, prepared once into a cache directory.
#
#   bench/workloads.sh prepare [uclibc|googletest|all]   extract and configure once (idempotent)
#   bench/workloads.sh fresh uclibc DEST                 copy the configured uClibc-ng tree to DEST
#   bench/workloads.sh fresh googletest DEST [CMAKE_ARG...]
#                                                        configure a new, empty googletest build dir DEST
#                                                        (KILN_GOOGLETEST_SCOPE=full|samples: what it builds)
#   bench/workloads.sh verify [uclibc|googletest|all]    build a fresh copy with plain gcc, count objects
#   bench/workloads.sh objects DIR                       list the object files under DIR, sorted
#   bench/workloads.sh available uclibc|googletest       exit 0 when the workload's source is installed
#
# Or source it and call the workload_* functions. The cache directory is $KILN_WORKLOADS_DIR
# (default: artifacts/workloads in the repository). Output paths are printed on stdout; progress
# goes to stderr.
#
# uClibc-ng 1.0.35 comes from Debian's uclibc-source (/usr/src/uClibc-ng-1.0.35.tar.xz): make defconfig,
# with KERNEL_HEADERS pointing at a directory of links (linux, asm, asm-generic) to the system headers.
# googletest comes from Debian's googletest (/usr/src/googletest) and builds out of tree with CMake, its
# own tests and samples included, so that CC/CXX or CMAKE_<LANG>_COMPILER_LAUNCHER select the compiler.

WORKLOADS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UCLIBC_TARBALL="${UCLIBC_TARBALL:-/usr/src/uClibc-ng-1.0.35.tar.xz}"
UCLIBC_VERSION=1.0.35
GOOGLETEST_SOURCE="${GOOGLETEST_SOURCE:-/usr/src/googletest}"

workload_dir() {
    local dir="${KILN_WORKLOADS_DIR:-$WORKLOADS_REPO/artifacts/workloads}"
    mkdir -p "$dir" && (cd "$dir" && pwd)
}

workload_log() { echo "workloads: $*" >&2; }

# Runs "$@" while holding the cache directory's lock, so parallel callers prepare once.
workload_locked() {
    local dir
    dir="$(workload_dir)" || return 1
    (
        exec 9>"$dir/.lock"
        flock 9
        "$@"
    )
}

workload_available() {
    case "$1" in
        uclibc) [ -f "$UCLIBC_TARBALL" ] ;;
        googletest) [ -f "$GOOGLETEST_SOURCE/CMakeLists.txt" ] ;;
        *) workload_log "unknown workload '$1' (uclibc, googletest)"; return 2 ;;
    esac
}

# The directory of links that uClibc-ng's KERNEL_HEADERS points at.
workload_kernel_headers() {
    local dir arch_asm
    dir="$(workload_dir)/kernel-headers" || return 1
    arch_asm="/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/asm"
    mkdir -p "$dir"
    ln -sfn /usr/include/linux "$dir/linux"
    ln -sfn "$arch_asm" "$dir/asm"
    ln -sfn /usr/include/asm-generic "$dir/asm-generic"
    echo "$dir"
}

_workload_uclibc_prepare_locked() {
    local dir pristine tmp headers
    dir="$(workload_dir)" || return 1
    pristine="$dir/uclibc-ng-$UCLIBC_VERSION"
    if [ -f "$pristine/.kiln-prepared" ]; then
        echo "$pristine"
        return 0
    fi
    workload_available uclibc || {
        workload_log "$UCLIBC_TARBALL is missing: apt-get install uclibc-source (scripts/setup does)"
        return 1
    }
    headers="$(workload_kernel_headers)" || return 1
    workload_log "preparing uClibc-ng $UCLIBC_VERSION in $pristine"
    tmp="$dir/.uclibc.tmp.$$"
    rm -rf "$tmp" "$pristine"
    mkdir -p "$tmp"
    tar -xJf "$UCLIBC_TARBALL" -C "$tmp" --strip-components=1 || return 1
    make -C "$tmp" -s defconfig >"$tmp/.kiln-defconfig.log" 2>&1 || {
        workload_log "make defconfig failed: see $tmp/.kiln-defconfig.log"
        return 1
    }
    sed -i "s|^KERNEL_HEADERS=.*|KERNEL_HEADERS=\"$headers\"|" "$tmp/.config"
    grep -q "^KERNEL_HEADERS=\"$headers\"" "$tmp/.config" || {
        workload_log "could not set KERNEL_HEADERS in $tmp/.config"
        return 1
    }
    touch "$tmp/.kiln-prepared"
    mv "$tmp" "$pristine"
    echo "$pristine"
}

# Prints the pristine, configured uClibc-ng tree (prepared on first use).
workload_uclibc_prepare() { workload_locked _workload_uclibc_prepare_locked; }

_workload_googletest_prepare_locked() {
    local dir pristine tmp
    dir="$(workload_dir)" || return 1
    pristine="$dir/googletest-src"
    if [ -f "$pristine/.kiln-prepared" ]; then
        echo "$pristine"
        return 0
    fi
    workload_available googletest || {
        workload_log "$GOOGLETEST_SOURCE is missing: apt-get install googletest (scripts/setup does)"
        return 1
    }
    workload_log "preparing googletest from $GOOGLETEST_SOURCE in $pristine"
    tmp="$dir/.googletest.tmp.$$"
    rm -rf "$tmp" "$pristine"
    cp -a "$GOOGLETEST_SOURCE" "$tmp" || return 1
    touch "$tmp/.kiln-prepared"
    mv "$tmp" "$pristine"
    echo "$pristine"
}

# Prints the pristine googletest source tree (copied on first use; builds happen out of tree).
workload_googletest_prepare() { workload_locked _workload_googletest_prepare_locked; }

# workload_uclibc_fresh DEST: a clean, configured uClibc-ng tree at DEST (replaced if present).
workload_uclibc_fresh() {
    local dest="$1" pristine
    [ -n "$dest" ] || { workload_log "usage: workload_uclibc_fresh DEST"; return 2; }
    pristine="$(workload_uclibc_prepare)" || return 1
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    cp -a "$pristine" "$dest" || return 1
    rm -f "$dest/.kiln-prepared"
    (cd "$dest" && pwd)
}

# CMake options for the googletest workload by $KILN_GOOGLETEST_SCOPE: "full" (the default) builds
# googletest's and googlemock's own tests and the samples, 99 C++ compiles; "samples" builds the
# libraries and the samples only, 18 compiles, for a quick run on a busy machine.
workload_googletest_cmake_options() {
    case "${KILN_GOOGLETEST_SCOPE:-full}" in
        full) echo "-DCMAKE_BUILD_TYPE=Release -Dgtest_build_tests=ON -Dgmock_build_tests=ON -Dgtest_build_samples=ON" ;;
        samples) echo "-DCMAKE_BUILD_TYPE=Release -Dgtest_build_samples=ON" ;;
        *) workload_log "KILN_GOOGLETEST_SCOPE must be full or samples"; return 2 ;;
    esac
}

# workload_googletest_fresh DEST [CMAKE_ARG...]: an empty build dir at DEST configured with CMake
# ("Unix Makefiles"). CC/CXX from the environment and extra arguments such as
# -DCMAKE_CXX_COMPILER_LAUNCHER=... pass through.
workload_googletest_fresh() {
    local dest="$1" src
    [ -n "$dest" ] || { workload_log "usage: workload_googletest_fresh DEST [CMAKE_ARG...]"; return 2; }
    shift
    local -a options
    local option_text
    option_text="$(workload_googletest_cmake_options)" || return 2
    read -r -a options <<<"$option_text"
    src="$(workload_googletest_prepare)" || return 1
    rm -rf "$dest"
    mkdir -p "$dest"
    cmake -S "$src" -B "$dest" -G "Unix Makefiles" "${options[@]}" "$@" >"$dest/.kiln-configure.log" 2>&1 || {
        workload_log "cmake configure failed: see $dest/.kiln-configure.log"
        return 1
    }
    (cd "$dest" && pwd)
}

# workload_objects DIR: the object files a build left under DIR, relative and sorted.
workload_objects() {
    (cd "$1" && find . -type f \( -name '*.o' -o -name '*.os' -o -name '*.oS' \) -printf '%P\n' | LC_ALL=C sort)
}

# workload_verify NAME: builds a fresh copy with plain gcc (make -j2) and prints the object count.
workload_verify() {
    local name="$1" tmp count rc=0 start
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/kiln-workload-verify.XXXXXX")"
    start=$SECONDS
    case "$name" in
        uclibc)
            workload_uclibc_fresh "$tmp/uclibc" >/dev/null || rc=1
            [ $rc = 0 ] && { make -C "$tmp/uclibc" -j2 >"$tmp/build.log" 2>&1 || rc=1; }
            [ $rc = 0 ] && { [ -f "$tmp/uclibc/lib/libc.a" ] || rc=1; }
            ;;
        googletest)
            workload_googletest_fresh "$tmp/googletest" >/dev/null || rc=1
            [ $rc = 0 ] && { make -C "$tmp/googletest" -j2 >"$tmp/build.log" 2>&1 || rc=1; }
            ;;
        *) workload_log "unknown workload '$name'"; rm -rf "$tmp"; return 2 ;;
    esac
    if [ $rc != 0 ]; then
        workload_log "$name: build FAILED; last lines of the log:"
        tail -n 20 "$tmp/build.log" >&2 2>/dev/null
    else
        count="$(workload_objects "$tmp/$name" | wc -l)"
        workload_log "$name: make -j2 built $count object files in $((SECONDS - start)) s"
        echo "$count"
    fi
    rm -rf "$tmp"
    return $rc
}

workloads_main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        prepare)
            case "${1:-all}" in
                uclibc) workload_uclibc_prepare ;;
                googletest) workload_googletest_prepare ;;
                all) workload_uclibc_prepare && workload_googletest_prepare ;;
                *) workload_log "unknown workload '$1'"; return 2 ;;
            esac
            ;;
        fresh)
            case "${1:-}" in
                uclibc) workload_uclibc_fresh "${2:-}" ;;
                googletest) shift; workload_googletest_fresh "$@" ;;
                *) workload_log "usage: workloads.sh fresh uclibc|googletest DEST"; return 2 ;;
            esac
            ;;
        verify)
            case "${1:-all}" in
                all) workload_verify uclibc && workload_verify googletest ;;
                *) workload_verify "$1" ;;
            esac
            ;;
        objects) workload_objects "${1:?usage: workloads.sh objects DIR}" ;;
        available) workload_available "${1:?usage: workloads.sh available uclibc|googletest}" ;;
        dir) workload_dir ;;
        *)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
            return 2
            ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    workloads_main "$@"
fi
