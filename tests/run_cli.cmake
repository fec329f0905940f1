# Runs the vkllm command for a ctest case and checks what it did.
#   -DCOMMAND="vkllm;arg;..."     the command line (a CMake list)
#   -DEXPECT_FAIL=ON              it must exit non-zero (else zero)
#   -DEXPECT_STDERR=regex         stderr must match
#   -DEXPECT_STDOUT_FILE=path     stdout must equal this file byte for byte
#   -DENV="NAME=value;..."        environment for the command
if(ENV)
  foreach(assignment ${ENV})
    string(REGEX MATCH "^[^=]+" name "${assignment}")
    string(REGEX REPLACE "^[^=]+=" "" value "${assignment}")
    set(ENV{${name}} "${value}")
  endforeach()
endif()

execute_process(COMMAND ${COMMAND}
                RESULT_VARIABLE status
                OUTPUT_VARIABLE stdout
                ERROR_VARIABLE stderr)

if(EXPECT_FAIL AND status EQUAL 0)
  message(FATAL_ERROR "expected a failure, got exit 0\nstderr: ${stderr}")
endif()
if(NOT EXPECT_FAIL AND NOT status EQUAL 0)
  message(FATAL_ERROR "expected success, got '${status}'\nstderr: ${stderr}")
endif()
if(NOT status MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the command did not exit normally: ${status}\nstderr: ${stderr}")
endif()
if(EXPECT_STDERR AND NOT stderr MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}':\n${stderr}")
endif()
if(EXPECT_STDOUT_FILE)
  file(READ "${EXPECT_STDOUT_FILE}" expected)
  if(NOT stdout STREQUAL expected)
    message(FATAL_ERROR "stdout differs from ${EXPECT_STDOUT_FILE}:\n${stdout}")
  endif()
endif()
message(STATUS "ok: exit ${status}")
