import time, statistics, torch
from engine.model import SegModel, default_classes
from engine.predict import Predictor
m = SegModel(default_classes(1)); pr = Predictor(m, "cpu"); model = pr.model
x = torch.randint(0,255,(4,3,384,384),dtype=torch.uint8)
for nt in (2,1):
    torch.set_num_threads(nt)
    for name, fn in (("backbone", lambda: model.features(x)), ("full", lambda: model.student_logits(x, full_size=False))):
        with torch.no_grad():
            ts=[]
            for _ in range(6):
                t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
        print(nt, name, f"{statistics.median(ts[1:])/4*1000:.1f} ms/img")
