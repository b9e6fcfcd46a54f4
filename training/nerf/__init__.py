"""The NeRF talking head's renderer core in pure PyTorch: hash-grid tri-plane, rays and compositing, the
conditioned radiance field, the frame-folder format, the ray batches the shared trainer draws, and the
portrait rendered for new audio (`mouthpiece nerf render`)."""
