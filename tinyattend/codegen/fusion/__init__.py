"""Fused groups of ops that run as one kernel so that a large intermediate tensor never exists whole
(issue 17): inverted_residual.py finds them (a pure graph pass), expand_depthwise.py lowers them."""
