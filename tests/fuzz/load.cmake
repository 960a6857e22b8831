# userstream-load fuzz targets. The loader sources are compiled into each
# target so they carry the fuzzer's coverage instrumentation.
set(_ld ${PROJECT_SOURCE_DIR}/src/load)
set(_ld_core_src ${_ld}/ld_json.c ${_ld}/ld_user.c ${_ld}/ld_page.c ${_ld}/ld_text.c
    ${_ld}/ld_copy.c)
pkg_check_modules(LD_FUZZ_JANSSON REQUIRED IMPORTED_TARGET jansson)

us_fuzz_target(fuzz_load_page fuzz_load_page.c ${_ld_core_src})
target_include_directories(fuzz_load_page PRIVATE ${_ld})
target_link_libraries(fuzz_load_page PRIVATE us_common PkgConfig::LD_FUZZ_JANSSON)

us_fuzz_target(fuzz_load_text fuzz_load_text.c ${_ld}/ld_text.c ${_ld}/ld_copy.c)
target_include_directories(fuzz_load_text PRIVATE ${_ld})
target_link_libraries(fuzz_load_text PRIVATE us_common)
