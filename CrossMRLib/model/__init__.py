"""The CrossMR network (FocalNet encoder, FPN, visual sampler, organ-query decoder) and its training parts."""
