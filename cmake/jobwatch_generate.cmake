# jobwatch_generate(TARGET name NAMESPACE ns SCHEMAS files... [INCLUDE_PREFIX dir] [TS_OUT dir])
#
# Generates one C++ header per JSON Schema at build time with jobwatch-codegen
# and defines the INTERFACE target `name` whose include directory holds them:
#   #include <name/<stem>.hpp>      (or <INCLUDE_PREFIX/<stem>.hpp>)
# With TS_OUT, the same build also writes the TypeScript modules into `dir`
# (relative to the current binary directory unless absolute): <stem>.ts per
# schema, codec.ts and index.ts. Both outputs are regenerated only when a
# schema, a template or the generator changes (all of them are DEPENDS of the
# custom commands), and both belong to the target generate_<name>.

include_guard(GLOBAL)

# In the source tree codegen/ sits beside cmake/; an installed package sets it first.
if(NOT JOBWATCH_CODEGEN_DIR)
    get_filename_component(_jw_codegen "${CMAKE_CURRENT_LIST_DIR}/../codegen" ABSOLUTE)
    set(JOBWATCH_CODEGEN_DIR "${_jw_codegen}" CACHE INTERNAL "jobwatch-codegen folder")
endif()

# _jobwatch_find_python(<out> [MODULES m...]): a Python 3 that can import jinja2
# (and the other modules named). Debian's python3-jinja2 installs into the
# system interpreter, which may not be the first python3 on PATH, so that one
# is tried first; JOBWATCH_PYTHON overrides the search.
function(_jobwatch_find_python out)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "MODULES")
    set(modules jinja2 ${arg_MODULES})
    list(JOIN modules ", " import_list)
    set(candidates "")
    if(JOBWATCH_PYTHON)
        list(APPEND candidates "${JOBWATCH_PYTHON}")
    endif()
    find_program(_jw_system_python python3 PATHS /usr/bin NO_DEFAULT_PATH)
    if(_jw_system_python)
        list(APPEND candidates "${_jw_system_python}")
    endif()
    find_package(Python3 QUIET COMPONENTS Interpreter)
    if(Python3_EXECUTABLE)
        list(APPEND candidates "${Python3_EXECUTABLE}")
    endif()
    foreach(py IN LISTS candidates)
        execute_process(COMMAND "${py}" -c "import ${import_list}"
                        RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
        if(rc EQUAL 0)
            set(${out} "${py}" PARENT_SCOPE)
            return()
        endif()
    endforeach()
    message(FATAL_ERROR
        "jobwatch needs Python 3 with ${import_list} (Debian: apt-get install python3-jinja2 "
        "python3-jsonschema); set JOBWATCH_PYTHON to such an interpreter. Tried: ${candidates}")
endfunction()

function(jobwatch_generate)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "TARGET;NAMESPACE;INCLUDE_PREFIX;TS_OUT" "SCHEMAS")
    if(NOT arg_TARGET OR NOT arg_SCHEMAS)
        message(FATAL_ERROR "jobwatch_generate: TARGET and SCHEMAS are required")
    endif()
    if(NOT arg_NAMESPACE)
        set(arg_NAMESPACE "${arg_TARGET}")
    endif()
    if(NOT arg_INCLUDE_PREFIX)
        set(arg_INCLUDE_PREFIX "${arg_TARGET}")
    endif()
    _jobwatch_find_python(python)

    set(root "${CMAKE_CURRENT_BINARY_DIR}/${arg_TARGET}_include")
    set(out_dir "${root}/${arg_INCLUDE_PREFIX}")
    set(schemas "")
    set(outputs "")
    foreach(schema IN LISTS arg_SCHEMAS)
        get_filename_component(schema "${schema}" ABSOLUTE)
        get_filename_component(name "${schema}" NAME)
        string(REGEX REPLACE "\\.schema\\.json$" "" stem "${name}")
        if(stem STREQUAL name)
            message(FATAL_ERROR "jobwatch_generate: ${name} is not named <stem>.schema.json")
        endif()
        list(APPEND schemas "${schema}")
        list(APPEND outputs "${out_dir}/${stem}.hpp")
    endforeach()
    file(GLOB generator_files CONFIGURE_DEPENDS
         "${JOBWATCH_CODEGEN_DIR}/jobwatch-codegen"
         "${JOBWATCH_CODEGEN_DIR}/jobwatch_codegen/*.py"
         "${JOBWATCH_CODEGEN_DIR}/templates/*.j2")
    add_custom_command(
        OUTPUT ${outputs}
        COMMAND "${python}" "${JOBWATCH_CODEGEN_DIR}/jobwatch-codegen"
                --lang cpp --namespace "${arg_NAMESPACE}" --out "${out_dir}" ${schemas}
        DEPENDS ${schemas} ${generator_files}
        COMMENT "jobwatch-codegen: ${arg_TARGET} (${arg_NAMESPACE})"
        VERBATIM)
    set(ts_outputs "")
    if(arg_TS_OUT)
        get_filename_component(ts_dir "${arg_TS_OUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
        foreach(schema IN LISTS schemas)
            get_filename_component(name "${schema}" NAME)
            string(REGEX REPLACE "\\.schema\\.json$" "" stem "${name}")
            list(APPEND ts_outputs "${ts_dir}/${stem}.ts")
        endforeach()
        list(APPEND ts_outputs "${ts_dir}/codec.ts" "${ts_dir}/index.ts")
        add_custom_command(
            OUTPUT ${ts_outputs}
            COMMAND "${python}" "${JOBWATCH_CODEGEN_DIR}/jobwatch-codegen"
                    --lang ts --namespace "${arg_NAMESPACE}" --out "${ts_dir}" ${schemas}
            DEPENDS ${schemas} ${generator_files} "${JOBWATCH_CODEGEN_DIR}/../ts/codec.ts"
            COMMENT "jobwatch-codegen: ${arg_TARGET} (TypeScript)"
            VERBATIM)
    endif()
    add_custom_target(generate_${arg_TARGET} DEPENDS ${outputs} ${ts_outputs})
    add_library(${arg_TARGET} INTERFACE)
    add_dependencies(${arg_TARGET} generate_${arg_TARGET})
    target_include_directories(${arg_TARGET} INTERFACE "$<BUILD_INTERFACE:${root}>")
    if(TARGET jobwatch::jobwatch)
        target_link_libraries(${arg_TARGET} INTERFACE jobwatch::jobwatch)
    endif()
    set_property(TARGET ${arg_TARGET} PROPERTY JOBWATCH_GENERATED_ROOT "${root}")
    set_property(TARGET ${arg_TARGET} PROPERTY JOBWATCH_GENERATED_HEADERS "${outputs}")
    if(arg_TS_OUT)
        set_property(TARGET ${arg_TARGET} PROPERTY JOBWATCH_GENERATED_TS_DIR "${ts_dir}")
    endif()
endfunction()
