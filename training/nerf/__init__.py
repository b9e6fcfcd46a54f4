"""The NeRF talking head's renderer core in pure PyTorch: hash-grid tri-plane, rays and compositing, the
conditioned radiance field, the frame-folder format and the ray batches the shared trainer draws."""
