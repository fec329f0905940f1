#!/bin/sh
# Installs what vkllm needs to build and test, from Debian's packages: a C
# compiler and CMake, the Vulkan headers and loader, volk, glslang, cJSON,
# SPIRV-Tools, the Khronos validation layer and Mesa's drivers (lavapipe, a
# Vulkan device that runs on the CPU, is among them).
set -eu

packages="gcc make cmake libvulkan-dev libvulkan-volk-dev glslang-tools libcjson-dev
spirv-tools vulkan-validationlayers mesa-vulkan-drivers"

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
else
    as_root="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq --no-install-recommends $packages
