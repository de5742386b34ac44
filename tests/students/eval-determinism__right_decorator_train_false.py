# expect: PASSED
# style: @torch.no_grad() decorator and model.train(False) (the same switch as model.eval()).
import torch


@torch.no_grad()
def predict(model, images):
    model.train(False)
    outputs = model(images)
    return outputs
