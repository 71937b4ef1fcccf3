"""CNN multipotency classifier (paper Table 1, Fig. 4B-F): timm backbone + the paper's head, trained on
single-cell crops with SSEA3 labels, compared across backbones by grouped cross-validation."""
