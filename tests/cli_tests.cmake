# The vkllm command end to end: reference outputs on stdout, and a clear
# message with a non-zero exit for each kind of bad input.

set(models ${VKLLM_MODELS_DIR})
set(stories -m ${models}/stories260K/stories260K.bin -z ${models}/stories260K/tok512.bin)

# name, expected-failure flag, stderr regex, stdout file, environment, then the arguments
function(vkllm_cli_test name expect_fail stderr_regex stdout_file env)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND}
                   "-DCOMMAND=$<TARGET_FILE:vkllm_cli>;${ARGN}"
                   -DEXPECT_FAIL=${expect_fail}
                   "-DEXPECT_STDERR=${stderr_regex}"
                   -DEXPECT_STDOUT_FILE=${stdout_file}
                   "-DENV=${env}"
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/run_cli.cmake)
  set_tests_properties(${name} PROPERTIES TIMEOUT 300)
endfunction()

vkllm_cli_test(cli_reference_default OFF "generation: [0-9]+ tokens"
               ${models}/reference/stories260K_run_t0_default.txt ""
               run ${stories} -n 256 --temp 0 --validation)
vkllm_cli_test(cli_reference_ouat_n64 OFF "prompt: 5 tokens"
               ${models}/reference/stories260K_run_t0_ouat_n64.txt ""
               run ${stories} -p "Once upon a time" -n 64 --temp 0 --validation)
vkllm_cli_test(cli_devices OFF "" "" "" devices)
vkllm_cli_test(cli_devices_json OFF "" "" "" devices --json)
vkllm_cli_test(cli_device_by_name OFF "" "" "VKLLM_DEVICE=llvmpipe"
               run ${stories} -n 8 --temp 0)

vkllm_cli_test(cli_missing_model ON "cannot load model: .*no/such/model.bin" "" ""
               run -m ${models}/no/such/model.bin -z ${models}/stories260K/tok512.bin)
vkllm_cli_test(cli_missing_tokenizer ON "cannot load tokenizer: .*missing.bin" "" ""
               run -m ${models}/stories260K/stories260K.bin -z ${models}/missing.bin)
vkllm_cli_test(cli_model_as_tokenizer ON "cannot load tokenizer" "" ""
               run -m ${models}/stories260K/stories260K.bin -z ${models}/stories260K/stories260K.bin)
vkllm_cli_test(cli_tokenizer_as_model ON "cannot load model: .*tok512.bin" "" ""
               run -m ${models}/stories260K/tok512.bin -z ${models}/stories260K/tok512.bin)
vkllm_cli_test(cli_prompt_longer_than_context ON "generation failed: .*context" "" ""
               run ${stories} --context 4 -p "Once upon a time there was")
vkllm_cli_test(cli_no_vulkan_device ON "cannot start Vulkan: .*no Vulkan device found" ""
               "VK_ICD_FILENAMES=/nonexistent/icd.json;VK_DRIVER_FILES=/nonexistent/icd.json"
               run ${stories})
vkllm_cli_test(cli_unknown_device ON "bad --device: .*no such gpu" "" ""
               run ${stories} --device "no such gpu")
vkllm_cli_test(cli_bad_number ON "--temp takes a number" "" "" run ${stories} --temp hot)
vkllm_cli_test(cli_unknown_option ON "unknown option '--frobnicate'" "" ""
               run ${stories} --frobnicate)

# GGUF models carry their tokenizer: no -z.
foreach(variant stories260K stories260K-f16 stories260K-q8_0)
  vkllm_cli_test(cli_gguf_${variant}_ouat_n64 OFF ""
                 ${models}/reference/${variant}_gguf_llamacpp_t0_ouat_n64.txt ""
                 run -m ${models}/stories260K/${variant}.gguf -p "Once upon a time" -n 64
                 --temp 0 --validation)
endforeach()
foreach(variant stories260K stories260K-f16)
  vkllm_cli_test(cli_gguf_${variant}_empty_n256 OFF ""
                 ${models}/reference/${variant}_gguf_llamacpp_t0_empty_n256.txt ""
                 run -m ${models}/stories260K/${variant}.gguf -n 256 --temp 0)
endforeach()

vkllm_cli_test(cli_inspect OFF "" "" "" inspect ${models}/stories260K/stories260K-q8_0.gguf)
vkllm_cli_test(cli_inspect_json OFF "" "" "" inspect ${models}/stories260K/stories260K.bin
               --json)
vkllm_cli_test(cli_tokenize_gguf OFF "" ${CMAKE_CURRENT_SOURCE_DIR}/data/ouat_ids.txt ""
               tokenize -m ${models}/stories260K/stories260K.gguf -p "Once upon a time"
               --ids --bos)
vkllm_cli_test(cli_tokenize_llama2c OFF "" ${CMAKE_CURRENT_SOURCE_DIR}/data/ouat_ids.txt ""
               tokenize -z ${models}/stories260K/tok512.bin -p "Once upon a time" --ids --bos)
vkllm_cli_test(cli_inspect_truncated ON "cannot inspect: .*tok512.bin" "" ""
               inspect ${models}/stories260K/tok512.bin)
vkllm_cli_test(cli_bench OFF "" "" "" bench -m ${models}/stories260K/stories260K.gguf -p 16 -n 8
               -r 2 -b 8 --json)
vkllm_cli_test(cli_bench_ops OFF "" "" "" bench-ops --json)
vkllm_cli_test(cli_bench_nothing ON "nothing to measure" "" ""
               bench -m ${models}/stories260K/stories260K.gguf -p 0 -n 0)
