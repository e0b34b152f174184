# cmake -P run_consumer.cmake: builds and runs a small outside project against
# jobwatch, either installed (MODE=install) or through add_subdirectory
# (MODE=subdirectory). Variables: MODE, SOURCE_DIR, BINARY_DIR, WORK_DIR,
# LAUNCHER (ccache or empty), CXX.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(common -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX}")
if(LAUNCHER)
    list(APPEND common "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
if(MODE STREQUAL "install")
    run("${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${WORK_DIR}/prefix")
    run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/consumer" -B "${WORK_DIR}/build"
        ${common} "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
else()
    run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/subdirectory" -B "${WORK_DIR}/build"
        ${common} "-DJOBWATCH_SOURCE_DIR=${SOURCE_DIR}")
endif()
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
string(FIND "${last_output}" [["order_id":"A-17","carrier":"dhl","parcels":2,"note":null]] found)
if(found EQUAL -1)
    message(FATAL_ERROR "unexpected output:\n${last_output}")
endif()
string(FIND "${last_output}" "/carrier: must be one of" found)
if(found EQUAL -1)
    message(FATAL_ERROR "unexpected output:\n${last_output}")
endif()
message(STATUS "consumer (${MODE}) built and ran:\n${last_output}")
