# expect: WRONG_ANSWER failing no-gradient-tracking
# mistake: calls torch.no_grad() as a plain statement instead of `with torch.no_grad():`,
# which builds a context manager and throws it away: autograd still records the forward pass.
import torch


def predict(model, images):
    model.eval()
    torch.no_grad()
    return model(images)
