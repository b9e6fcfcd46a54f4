"""Inference layers in numpy, matching torch's definitions (float32; channels last unless a function says otherwise)."""
from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only, so large |x| neither overflows nor warns
    positive = x >= 0
    e = np.exp(np.where(positive, -x, x))
    return np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def strided_conv3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A kernel-3, stride-2, padding-1 convolution along axis -2 of channels-last `x` (..., L, C_in).

    `weight` is torch's (C_out, C_in, 3) for that axis; returns (..., L // 2, C_out).
    """
    length = x.shape[-2]
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (0, 0)]
    padded = np.pad(x, pad)
    taps = [padded[..., k:k + length:2, :] for k in range(3)]
    patches = np.concatenate(taps, axis=-1)  # (..., L/2, 3 * C_in), tap-major
    matrix = weight.transpose(2, 1, 0).reshape(-1, weight.shape[0])  # (3 * C_in, C_out)
    return patches @ matrix + bias


def gru(inputs: np.ndarray, w_ih, w_hh, b_ih, b_hh, state: np.ndarray | None = None):
    """torch.nn.GRU, one layer, over (T, in) -> ((T, H), last state). Gate order r, z, n."""
    hidden = w_hh.shape[1]
    h = np.zeros(hidden, np.float32) if state is None else state
    projected = inputs @ w_ih.T + b_ih  # (T, 3H), all input projections at once
    w_hh_t = np.ascontiguousarray(w_hh.T)
    out = np.empty((inputs.shape[0], hidden), np.float32)
    for t in range(inputs.shape[0]):
        recurrent = h @ w_hh_t + b_hh
        x_r, x_z, x_n = np.split(projected[t], 3)
        h_r, h_z, h_n = np.split(recurrent, 3)
        r = sigmoid(x_r + h_r)
        z = sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        h = (1.0 - z) * n + z * h
        out[t] = h
    return out, h


def lstm(inputs: np.ndarray, w_ih, w_hh, b_ih, b_hh, state=None):
    """torch.nn.LSTM, one layer, over (T, in) -> ((T, H), (h, c)). Gate order i, f, g, o."""
    hidden = w_hh.shape[1]
    h, c = (np.zeros(hidden, np.float32), np.zeros(hidden, np.float32)) if state is None else state
    projected = inputs @ w_ih.T + (b_ih + b_hh)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    out = np.empty((inputs.shape[0], hidden), np.float32)
    for t in range(inputs.shape[0]):
        gates = projected[t] + h @ w_hh_t
        i, f, g, o = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out[t] = h
    return out, (h, c)


def lstm_cell(x: np.ndarray, h: np.ndarray, c: np.ndarray, w_ih_t, w_hh_t, bias):
    """torch.nn.LSTMCell, one step: (h, c). Takes the transposed weights and the summed biases."""
    gates = x @ w_ih_t + h @ w_hh_t + bias
    i, f, g, o = np.split(gates, 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def bidirectional_lstm(inputs: np.ndarray, forward: tuple, backward: tuple) -> np.ndarray:
    """torch.nn.LSTM(bidirectional=True), one layer, one unpadded sequence (T, in) -> (T, 2H)."""
    ahead, _ = lstm(inputs, *forward)
    behind, _ = lstm(inputs[::-1], *backward)
    return np.concatenate([ahead, behind[::-1]], axis=1)


def fold_batch_norm(weight: np.ndarray, bias: np.ndarray, gamma, beta, mean, var, eps: float = 1e-5):
    """A convolution followed by an eval-mode BatchNorm as one convolution: (weight, bias)."""
    scale = gamma / np.sqrt(var + eps)
    return weight * scale[:, None, None], (bias - mean) * scale + beta


def conv1d_same(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """torch.nn.Conv1d with odd kernel K and padding K // 2 on channels-last (L, C_in) -> (L, C_out)."""
    kernel = weight.shape[2]
    padded = np.pad(x, ((kernel // 2, kernel // 2), (0, 0)))
    patches = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=0)  # (L, C_in, K)
    out = patches.reshape(len(x), -1) @ weight.reshape(weight.shape[0], -1).T
    return out if bias is None else out + bias




def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: tuple[int, int] = (1, 1),
           padding: tuple[int, int] = (0, 0)) -> np.ndarray:
    """torch.nn.Conv2d (zero padding) in torch's layout: (B, C_in, H, W) -> (B, C_out, H', W').

    `weight` is torch's (C_out, C_in, kH, kW). The patches (im2col) are copied as whole rows along W, and
    with a vertical stride of 1 only the kW horizontal taps are gathered: each of the kH kernel rows is then
    a column offset into the same matrix, multiplied in place."""
    out_channels, in_channels, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    batch, _, height_in, width_in = padded.shape
    height, width = (height_in - kh) // sh + 1, (width_in - kw) // sw + 1
    dtype = np.result_type(x, weight)
    if sh == 1:
        taps = np.empty((batch, in_channels, kw, height_in, width), dtype)
        for j in range(kw):
            taps[:, :, j] = padded[:, :, :, j:j + (width - 1) * sw + 1:sw]
        taps = taps.reshape(batch, in_channels * kw, height_in * width)
        rows = weight.transpose(2, 0, 1, 3).reshape(kh, out_channels, in_channels * kw)
        out = np.matmul(rows[0], taps[:, :, :height * width])
        for i in range(1, kh):
            out += np.matmul(rows[i], taps[:, :, i * width:(i + height) * width])
    else:
        patches = np.empty((batch, in_channels, kh, kw, height, width), dtype)
        for i in range(kh):
            for j in range(kw):
                patches[:, :, i, j] = padded[:, :, i:i + (height - 1) * sh + 1:sh, j:j + (width - 1) * sw + 1:sw]
        out = np.matmul(weight.reshape(out_channels, -1), patches.reshape(batch, -1, height * width))
    out = out.reshape(batch, out_channels, height, width)
    if bias is not None:
        out += bias[:, None, None]
    return out
