# Compiles every GLSL compute shader to SPIR-V with glslangValidator and embeds
# the words in the library. Each variant is one entry of VKLLM_SHADER_VARIANTS:
#   name|source file in shaders/|preprocessor defines (comma separated)
#       [|glslang target environment, vulkan1.1 when absent]
# The registry (vkl_shader_table) lists them in this order; runtime/ops names
# each variant by the enum generated beside it (VKL_SHADER_ + the upper-case
# name, e.g. VKL_SHADER_MATVEC_Q4_K).

# The kernels that read a weight matrix (weights.glsl), each entry
# kernel|source|defines, built once per storage type as <kernel>_<type> with
# WEIGHT_<TYPE> added to the defines.
set(VKLLM_WEIGHT_KERNELS
  "matvec|matvec.comp|"
  "matvec_subgroup|matvec.comp|SUBGROUP_REDUCE"
  "matvec_rows|matvec_rows.comp|"
  "matmul|matmul.comp|"
  "matmul_rows|matmul_rows.comp|"
  "matmul_lanes|matmul_lanes.comp|"
  "embed|embed.comp|"
  "add_positions|add_positions.comp|"
)
set(VKLLM_WEIGHT_TYPES f32 f16 bf16 q8_0 q4_0 q4_k q6_k)

# GL_KHR_cooperative_matrix needs a newer glslang than Debian 12's. At
# configure time (again when the compiler changes), compile the KHR kernel
# itself, as the build would; only where that passes are the KHR variants
# built (VKLLM_HAVE_COOPMAT tells the runtime), the NV ones serving otherwise.
if(NOT VKLLM_COOPMAT_PROBED_WITH STREQUAL GLSLANG_VALIDATOR)
  set(probe_dir ${CMAKE_BINARY_DIR}/probes)
  file(MAKE_DIRECTORY ${probe_dir})
  execute_process(
    COMMAND ${GLSLANG_VALIDATOR} --quiet --target-env vulkan1.3 --spirv-val -DWEIGHT_Q4_K
            -o ${probe_dir}/matmul_coopmat.spv ${CMAKE_SOURCE_DIR}/shaders/matmul_coopmat.comp
    RESULT_VARIABLE probe_result OUTPUT_FILE ${probe_dir}/matmul_coopmat.log
    ERROR_FILE ${probe_dir}/matmul_coopmat.log)
  if(probe_result EQUAL 0)
    set(coopmat_found ON)
  else()
    set(coopmat_found OFF)
  endif()
  set(VKLLM_GLSLANG_COOPMAT ${coopmat_found} CACHE BOOL
      "glslangValidator compiles the GL_KHR_cooperative_matrix kernel" FORCE)
  set(VKLLM_COOPMAT_PROBED_WITH ${GLSLANG_VALIDATOR} CACHE INTERNAL "")
  message(STATUS "glslangValidator compiles the GL_KHR_cooperative_matrix kernel: "
                 "${coopmat_found} (see ${probe_dir}/matmul_coopmat.log)")
endif()

# Splits an entry name|source|defines[|environment] into entry_name,
# entry_source, entry_defines (still comma separated) and entry_env.
function(vkllm_split_entry entry)
  string(REPLACE "|" ";" fields "${entry}")
  list(LENGTH fields n_fields)
  list(GET fields 0 name)
  list(GET fields 1 source)
  set(defines "")
  set(env vulkan1.1)
  if(n_fields GREATER 2)
    list(GET fields 2 defines)
  endif()
  if(n_fields GREATER 3)
    list(GET fields 3 env)
  endif()
  set(entry_name ${name} PARENT_SCOPE)
  set(entry_source ${source} PARENT_SCOPE)
  set(entry_defines "${defines}" PARENT_SCOPE)
  set(entry_env ${env} PARENT_SCOPE)
endfunction()

set(VKLLM_SHADER_VARIANTS "")
foreach(entry ${VKLLM_WEIGHT_KERNELS})
  vkllm_split_entry("${entry}")
  set(kernel ${entry_name})
  set(source ${entry_source})
  set(extra "${entry_defines}")
  foreach(type ${VKLLM_WEIGHT_TYPES})
    string(TOUPPER ${type} type_upper)
    set(defines "WEIGHT_${type_upper}")
    if(extra)
      string(APPEND defines ",${extra}")
    endif()
    list(APPEND VKLLM_SHADER_VARIANTS "${kernel}_${type}|${source}|${defines}")
  endforeach()
endforeach()

# The cooperative-matrix kernel stages weights as F16: it is built for the
# types whose dequantized values F16 holds (runtime/ops/ops.c uses it for
# exactly these), on VK_NV_cooperative_matrix always and on
# VK_KHR_cooperative_matrix (for Vulkan 1.3) where the compiler knows it.
set(VKLLM_COOPMAT_TYPES f16 q8_0 q4_0 q4_k q6_k)
foreach(type ${VKLLM_COOPMAT_TYPES})
  string(TOUPPER ${type} type_upper)
  list(APPEND VKLLM_SHADER_VARIANTS
       "matmul_coopmat_nv_${type}|matmul_coopmat.comp|WEIGHT_${type_upper},COOPMAT_NV")
  if(VKLLM_GLSLANG_COOPMAT)
    list(APPEND VKLLM_SHADER_VARIANTS
         "matmul_coopmat_${type}|matmul_coopmat.comp|WEIGHT_${type_upper}|vulkan1.3")
  endif()
endforeach()
if(VKLLM_GLSLANG_COOPMAT)
  set(VKLLM_HAVE_COOPMAT 1)
else()
  set(VKLLM_HAVE_COOPMAT 0)
endif()

list(APPEND VKLLM_SHADER_VARIANTS
  "rmsnorm|rmsnorm.comp|"
  "layernorm|layernorm.comp|"
  "rope|rope.comp|"
  "attention|attention.comp|"
  "attention_texels|attention.comp|KV_TEXELS"
  "attention_wide|attention_wide.comp|"
  "attention_wide_subgroup|attention_wide.comp|SUBGROUP_REDUCE"
  "attention_combine|attention_combine.comp|"
  "swiglu|swiglu.comp|"
  "gelu|gelu.comp|"
  "add_bias|add_bias.comp|"
  "copy_rows|copy_rows.comp|"
)

set(shader_out ${CMAKE_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${shader_out})
file(GLOB shader_heads ${CMAKE_SOURCE_DIR}/shaders/*.glsl)

set(registry_includes "")
set(registry_entries "")
set(registry_enum "")
set(VKLLM_SHADER_HEADERS "")
foreach(variant ${VKLLM_SHADER_VARIANTS})
  vkllm_split_entry("${variant}")
  set(name ${entry_name})
  set(source ${entry_source})
  set(env ${entry_env})
  set(define_flags "")
  string(REPLACE "," ";" defines "${entry_defines}")
  foreach(d ${defines})
    list(APPEND define_flags "-D${d}")
  endforeach()

  set(header ${shader_out}/spv_${name}.h)
  add_custom_command(
    OUTPUT ${header}
    COMMAND ${GLSLANG_VALIDATOR} --quiet --target-env ${env} --spirv-val
            ${define_flags} --vn vkl_spv_${name} -o ${header}
            ${CMAKE_SOURCE_DIR}/shaders/${source}
    DEPENDS ${CMAKE_SOURCE_DIR}/shaders/${source} ${shader_heads}
    COMMENT "Compiling shader ${name}"
    VERBATIM)
  list(APPEND VKLLM_SHADER_HEADERS ${header})

  string(TOUPPER ${name} upper)
  string(APPEND registry_includes "#include \"spv_${name}.h\"\n")
  string(APPEND registry_entries
         "    {\"${name}\", vkl_spv_${name}, sizeof vkl_spv_${name}},\n")
  string(APPEND registry_enum "    VKL_SHADER_${upper},\n")
endforeach()

file(WRITE ${shader_out}/shader_ids.h.in
"/* Generated by cmake/shaders.cmake: one id per shader variant. */
#ifndef VKL_SHADER_IDS_H
#define VKL_SHADER_IDS_H
/* 1 when the matmul_coopmat_* variants were built (the shader compiler
 * knows GL_KHR_cooperative_matrix). */
#define VKLLM_HAVE_COOPMAT ${VKLLM_HAVE_COOPMAT}
typedef enum vkl_shader_id {
${registry_enum}    VKL_SHADER_COUNT
} vkl_shader_id;
#endif
")
configure_file(${shader_out}/shader_ids.h.in ${shader_out}/shader_ids.h COPYONLY)

file(WRITE ${shader_out}/shader_table.c.in
"/* Generated by cmake/shaders.cmake: the embedded SPIR-V of every shader. */
#include <stddef.h>
#include <stdint.h>
#include \"ops/shader_table.h\"
${registry_includes}
const vkl_shader_code vkl_shader_table[VKL_SHADER_COUNT] = {
${registry_entries}};
")
configure_file(${shader_out}/shader_table.c.in ${shader_out}/shader_table.c COPYONLY)
set_source_files_properties(${shader_out}/shader_table.c PROPERTIES
                            OBJECT_DEPENDS "${VKLLM_SHADER_HEADERS}")

set(VKLLM_SHADER_SOURCES ${shader_out}/shader_table.c ${VKLLM_SHADER_HEADERS})
set(VKLLM_SHADER_INCLUDE_DIR ${shader_out})
