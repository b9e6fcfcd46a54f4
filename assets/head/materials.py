"""The default head's material table (no Blender needed, so identities can vary it anywhere)."""

# name -> (base colour RGBA, roughness)
MATERIALS = {
    "Skin": ((0.80, 0.58, 0.47, 1.0), 0.55),
    "Lips": ((0.72, 0.36, 0.33, 1.0), 0.45),
    "MouthInside": ((0.07, 0.014, 0.016, 1.0), 0.6),
    "Teeth": ((0.92, 0.90, 0.84, 1.0), 0.3),
    "Tongue": ((0.62, 0.24, 0.25, 1.0), 0.5),
    "Brows": ((0.11, 0.065, 0.04, 1.0), 0.8),
    "Sclera": ((0.93, 0.93, 0.91, 1.0), 0.2),
    "Iris": ((0.23, 0.38, 0.52, 1.0), 0.25),
    "Pupil": ((0.01, 0.01, 0.01, 1.0), 0.2),
}
