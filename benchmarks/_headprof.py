import time, statistics, torch, numpy as np
from common import quick_model, speed_set
from engine.predict import Predictor
torch.set_num_threads(2)
from engine.model import SegModel, default_classes
m = SegModel(default_classes(1))
pr = Predictor(m, "cpu")
model = pr.model
x = torch.randint(0,255,(4,3,384,384),dtype=torch.uint8)
times = {}
def hook_pre(name):
    def f(mod, inp): times.setdefault(name, []).append(-time.perf_counter())
    return f
def hook_post(name):
    def f(mod, inp, out): times[name][-1] += time.perf_counter()
    return f
mods = {"backbone": model.backbone, "student": model.student, "head.mix.conv1": model.head.conv1,
 "conv2": model.head.conv2, "conv3": model.head.conv3, "conv4": model.head.conv4, "conv5": model.head.conv5,
 "mixer1": model.head.mixer1, "mixer2": model.head.mixer2, "mixer3": model.head.mixer3, "logits": model.head.logits}
for k, mod in mods.items():
    mod.register_forward_pre_hook(hook_pre(k)); mod.register_forward_hook(hook_post(k))
with torch.no_grad():
    for _ in range(12):
        model.student_logits(x, full_size=False)
for k,v in times.items(): print(f"{k:15s} {statistics.median(v[2:])/4*1000:.2f} ms/img")
for g in model.student.groups: print(g)
print(model.backbone.taps)
