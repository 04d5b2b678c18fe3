"""Reimplements ClassSubset.randomHalf (Sources/Engine/Data/Shifts.swift) from its documentation,
so an analysis outside Swift can tell which classes the model trained with data.class_subset_seed
N saw. Usage: python3 class_subset.py CLASSES SEED [SEED ...] -> one line of class ids per seed."""
import sys

M64 = (1 << 64) - 1


def rng_state(seed, stream):
    x = (seed ^ ((stream * 0xD1B54A32D192ED03) & M64)) & M64
    state = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        state.append(z ^ (z >> 31))
    if not any(state):
        state[0] = 1
    return state


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def next_u64(s):
    result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
    t = (s[1] << 17) & M64
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


def below(s, bound):
    m = next_u64(s) * bound
    if (m & M64) < bound:
        threshold = ((1 << 64) - bound) % bound
        while (m & M64) < threshold:
            m = next_u64(s) * bound
    return m >> 64


def random_half(classes, seed):
    s = rng_state(seed & M64, 0xC1A55)
    p = list(range(classes))
    for i in range(classes - 1, 0, -1):
        j = below(s, i + 1)
        p[i], p[j] = p[j], p[i]
    return sorted(p[: classes // 2])


if __name__ == "__main__":
    classes = int(sys.argv[1])
    for seed in sys.argv[2:]:
        print(" ".join(str(c) for c in random_half(classes, int(seed))))
