"""The engine's AdamW matches torch.optim.AdamW, and learning never imports torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from engine.learning.optim import AdamW


def test_adamw_matches_torch():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(8, 3), torch.nn.Linear(8, 3)
    b.load_state_dict(a.state_dict())
    ref = torch.optim.AdamW(a.parameters(), lr=1e-2, weight_decay=0.05)
    ours = AdamW(list(b.parameters()), lr=1e-2, weight_decay=0.05)
    for _ in range(25):
        x = torch.randn(4, 8)
        for model, opt in ((a, ref), (b, ours)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)


def test_learning_does_not_import_dynamo():
    """torch.optim imports torch._dynamo (1.5 s, GIL-heavy): it froze the app's event loop."""
    code = (
        "import sys\n"
        "from synthetic import make_set\n"
        "from engine.nn.model import ClassInfo\n"
        "from engine.learning.train import LearnConfig, learn\n"
        "images, masks = make_set(0, 2)\n"
        "cfg = LearnConfig(input_size=96, crop=64, total_views=4, max_steps=2, min_steps=1,\n"
        "                  loo_steps=2, time_budget_s=None)\n"
        "for _ in learn(images, masks, [ClassInfo(1, 'disc')], cfg):\n"
        "    pass\n"
        "print('torch._dynamo' in sys.modules)\n")
    here = Path(__file__).parent
    out = subprocess.run([sys.executable, "-c", code], cwd=here, capture_output=True,
                         text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
