// Shared by every kernel: the step block and index helpers.
//
// Binding 0 is always the step: where the tokens of this submission start in
// the sequence and how many there are. It lives in a buffer, not in push
// constants, so that a command buffer recorded once can be replayed for every
// token with only these two words rewritten.

layout(std430, binding = 0) readonly buffer Step {
    uint pos0;        // position of the first token of this step
    uint n_tokens;    // tokens in this step (at most the recorded batch)
} step;

// Workgroups may be laid out over x and y when there are more than the
// device's x limit; this is the workgroup's place in the flat order.
uint linear_group()
{
    return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

// A macro, not a function: gl_WorkGroupSize is only known once the shader
// has declared its local size, which comes after this file is included.
#define LINEAR_INVOCATION() (linear_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x)
