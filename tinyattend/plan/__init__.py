"""Memory planning: lifetimes of activation buffers, and their offsets in one arena."""
