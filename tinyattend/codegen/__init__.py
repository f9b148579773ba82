"""Code generation: IR ops lowered to kernel calls, rendered to C from templates/."""
