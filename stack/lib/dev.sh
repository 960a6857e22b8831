# stack/lib/dev.sh: build and test commands.

US_BUILD_JOBS=${US_BUILD_JOBS:-2}

# us_cmake DIR [CMAKE ARGS]: configure (once) and build DIR.
us_cmake() {
    local dir=$1
    shift
    local log=$US_ROOT/$dir/userstream-build.log
    mkdir -p "$US_ROOT/$dir"
    if [[ ! -f $US_ROOT/$dir/build.ninja ]]; then
        cmake -S "$US_ROOT" -B "$US_ROOT/$dir" -G Ninja "$@" >"$log" 2>&1 ||
            us_fail_with_log "cmake could not configure $dir" "$log"
    fi
    cmake --build "$US_ROOT/$dir" -j "$US_BUILD_JOBS" >"$log" 2>&1 ||
        us_fail_with_log "the build in $dir failed" "$log"
}

cmd_build() {
    local what=${1:---normal} start=$SECONDS
    case $what in
        --normal) us_step "Building (build/)"; us_cmake build ;;
        --sanitize) us_step "Building with ASan+UBSan (build-asan/)"; us_cmake build-asan -DUS_SANITIZE=ON ;;
        --fuzz)
            us_step "Building libFuzzer targets with clang (build-fuzz/)"
            us_cmake build-fuzz -DUS_FUZZ=ON -DUS_TESTS=OFF -DCMAKE_C_COMPILER=clang
            ;;
        --all) cmd_build --normal; cmd_build --sanitize; cmd_build --fuzz; return 0 ;;
        *) us_die "build: unknown option '$what' (--sanitize, --fuzz, --all)" ;;
    esac
    us_ok "built in $(us_elapsed $start)"
}

test_unit() {
    local dir
    for dir in build build-asan; do
        us_step "Unit tests in $dir (ctest)"
        (cd "$US_ROOT/$dir" && ctest --output-on-failure -j "$US_BUILD_JOBS") || us_die "unit tests failed in $dir"
    done
}

# test_fuzz: every fuzz_* target for US_FUZZ_SECONDS (default 30), starting
# from its committed seeds (tests/fuzz/corpus/<target>/, never modified).
# US_FUZZ_JOBS targets run at once (default: the number of cores): each target
# is one single-threaded process, so the wall time is the sum divided by that.
test_fuzz() {
    local secs=${US_FUZZ_SECONDS:-30} jobs=${US_FUZZ_JOBS:-$(nproc)} t n=0 failed=""
    local -a targets=()
    mapfile -t targets < <(find "$US_ROOT/build-fuzz" -maxdepth 3 -type f -name 'fuzz_*' -perm -u+x | sort)
    us_step "Fuzzing ${#targets[@]} targets for ${secs}s each, $jobs at a time"
    mkdir -p "$US_ROOT/build-fuzz/artifacts"
    for t in "${targets[@]}"; do
        while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
        us_fuzz_one "$t" "$secs" &
    done
    wait
    for t in "${targets[@]}"; do
        local name log
        name=$(basename "$t")
        log=$US_ROOT/build-fuzz/$name.log
        if [[ -f $US_ROOT/build-fuzz/$name.failed ]]; then
            failed=$name
            continue
        fi
        us_ok "$name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs, no failure"
        n=$((n + 1))
    done
    [[ -z $failed ]] || us_fail_with_log "fuzz target $failed found a failure (input saved in build-fuzz/artifacts/)" \
        "$US_ROOT/build-fuzz/$failed.log"
    [[ ${#targets[@]} -gt 0 ]] || us_note "no fuzz targets yet"
}

# us_fuzz_one TARGET SECONDS: one bounded libFuzzer run from the target's seeds
# into a scratch corpus; a failure leaves build-fuzz/<target>.failed.
us_fuzz_one() {
    local t=$1 secs=$2 name work seeds
    name=$(basename "$t")
    work=$(mktemp -d)
    seeds=$US_ROOT/tests/fuzz/corpus/$name
    mkdir -p "$seeds"
    rm -f "$US_ROOT/build-fuzz/$name.failed"
    if ! "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$US_ROOT/build-fuzz/artifacts/$name-" "$work" "$seeds" \
        >"$US_ROOT/build-fuzz/$name.log" 2>&1; then
        : >"$US_ROOT/build-fuzz/$name.failed"
    fi
    rm -rf "$work"
}

# us_c_sources [PATH...]: the project's C files (tracked or new, not ignored),
# under PATH (default: all of them).
us_c_sources() {
    (cd "$US_ROOT" && git ls-files --cached --others --exclude-standard -- "${@:-.}" |
        grep -E '\.(c|h)$' | while IFS= read -r f; do [[ -f $f ]] && printf '%s\n' "$f"; done)
}

# test_format: every C file is formatted by the repository's .clang-format
# (100 columns); `./userstream format [PATH...]` rewrites them.
test_format() {
    us_step "Format check (clang-format, .clang-format)"
    command -v clang-format >/dev/null || us_die "clang-format is missing (./userstream setup)"
    local -a files=()
    mapfile -t files < <(us_c_sources)
    [[ ${#files[@]} -gt 0 ]] || us_die "format check: no C files found (is $US_ROOT a git checkout?)"
    local log=$US_ROOT/build/clang-format.log
    mkdir -p "$US_ROOT/build"
    if ! (cd "$US_ROOT" && clang-format --dry-run -Werror "${files[@]}") >"$log" 2>&1; then
        us_fail_with_log "clang-format would change $(grep -c 'error:' "$log") places; fix them with ./userstream format [PATH...]" "$log"
    fi
    us_ok "${#files[@]} C files formatted ($(clang-format --version | grep -o 'version [0-9.]*'))"
}

# cmd_format [PATH...]: clang-format -i the C files under PATH (default: all).
cmd_format() {
    local -a files=()
    mapfile -t files < <(us_c_sources "$@")
    [[ ${#files[@]} -gt 0 ]] || us_die "format: no C files under ${*:-.}"
    (cd "$US_ROOT" && clang-format -i "${files[@]}") || us_die "clang-format failed"
    us_ok "formatted ${#files[@]} C files"
}

test_integration() {
    us_step "Integration tests (tests/integration, real engines)"
    local rc=0
    (cd "$US_ROOT" && "$US_VENV/bin/python" -m pytest tests/integration "${US_PYTEST_ARGS[@]}") || rc=$?
    [[ $rc -eq 0 ]] || us_die "integration tests failed (pytest exit $rc)"
}

# cmd_test [format|unit|fuzz|integration]...: all of them by default, as CI runs it.
cmd_test() {
    local -a parts=("$@")
    US_PYTEST_ARGS=()
    [[ ${#parts[@]} -gt 0 ]] || parts=(format unit fuzz integration)
    local start=$SECONDS
    (cmd_setup) || exit 1
    local p
    for p in "${parts[@]}"; do
        case $p in
            format) test_format ;;
            unit) cmd_build --normal; cmd_build --sanitize; test_unit ;;
            fuzz) cmd_build --fuzz; test_fuzz ;;
            integration) test_integration ;;
            *) us_die "test: unknown part '$p' (format, unit, fuzz, integration)" ;;
        esac
    done
    us_ok "all tests passed in $(us_elapsed $start)"
}
