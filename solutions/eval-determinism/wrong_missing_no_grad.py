def predict(model, images):
    model.eval()
    return model(images)
