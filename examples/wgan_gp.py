"""A Wasserstein GAN with gradient penalty (Gulrajani et al., 2017) on a
2-D mixture of eight Gaussians: the critic's loss contains the norm of its
own input gradient, so every critic step differentiates through a
gradient (a double backward through nn.Linear and ReLU layers).

    critic loss = mean D(fake) - mean D(real) + lam * mean (||grad_x D(x_hat)|| - 1)^2
    x_hat = e * real + (1 - e) * fake,  e ~ U(0, 1) per sample

The penalty starts near 1 (a freshly initialised critic has small input
gradients) and falls as the critic becomes 1-Lipschitz along the
interpolates; the script prints it and plots it beside generated samples.

    pip install .[examples]
    python examples/wgan_gp.py                      # 1000 generator steps
    python examples/wgan_gp.py --steps 50 --plot /tmp/wgan.png
"""
import argparse
import sys
import time

import numpy as np

import nthgrad as ng
import nthgrad.functional as F
import nthgrad.nn as nn

STEPS = 1000
N_CRITIC = 5
LAMBDA = 10.0
BATCH = 256


def real_batch(rng, n=BATCH):
    """(n, 2) float32 samples of eight Gaussians (std 0.05) on a circle of radius 2."""
    angles = rng.integers(0, 8, n) * (np.pi / 4)
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (centres + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def mlp(n_in, n_out, hidden=64):
    """(N, n_in) -> (N, n_out): two hidden ReLU layers."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


def gradient_penalty(critic, real, fake, rng):
    """mean over the batch of (||d critic / d x at x_hat|| - 1)^2, as a
    tensor that is differentiable in the critic's parameters (create_graph)."""
    e = rng.uniform(size=(len(real), 1)).astype(np.float32)
    x_hat = ng.tensor(e * real + (1 - e) * fake, requires_grad=True)
    (g,) = ng.grad(critic(x_hat).sum(), [x_hat], create_graph=True)
    norm = (F.sum(g * g, axis=1) + 1e-12) ** 0.5
    return ((norm - 1.0) ** 2).mean()


def train(steps=STEPS, n_critic=N_CRITIC, lam=LAMBDA, seed=0, plot=None, progress=True):
    """Trains generator and critic; returns {"penalty": per generator step,
    "wasserstein": the critic's estimate, "seconds", "generator"}."""
    from tqdm import tqdm
    ng.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator, critic = mlp(2, 2), mlp(2, 1)
    opt_g = ng.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_d = ng.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    history = {"penalty": [], "wasserstein": []}
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="WGAN-GP", unit="step", disable=not progress)
    for _ in bar:
        penalties, distances = [], []
        for _ in range(n_critic):
            real = real_batch(rng)
            with ng.no_grad():
                fake = np.array(generator(ng.tensor(rng.standard_normal((BATCH, 2)).astype(np.float32))))
            distance = critic(ng.tensor(real)).mean() - critic(ng.tensor(fake)).mean()
            penalty = gradient_penalty(critic, real, fake, rng)
            loss = -distance + lam * penalty
            opt_d.zero_grad()
            loss.backward()  # through the input gradient: second-order terms reach the critic's weights
            opt_d.step()
            penalties.append(penalty.item())
            distances.append(distance.item())
        z = ng.tensor(rng.standard_normal((BATCH, 2)).astype(np.float32))
        loss_g = -critic(generator(z)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        history["penalty"].append(float(np.mean(penalties)))
        history["wasserstein"].append(float(np.mean(distances)))
        bar.set_postfix(penalty=f"{history['penalty'][-1]:.4f}", W=f"{history['wasserstein'][-1]:.3f}")
    history["seconds"] = time.perf_counter() - start
    history["generator"] = generator
    if plot:
        plot_run(history, generator, rng, plot)
    return history


def plot_run(history, generator, rng, path):
    """PNG: the penalty per generator step, and generated vs real samples."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with ng.no_grad():
        fake = np.array(generator(ng.tensor(rng.standard_normal((1000, 2)).astype(np.float32))))
    real = real_batch(rng, 1000)
    fig, (ax_p, ax_s) = plt.subplots(1, 2, figsize=(9, 4))
    ax_p.plot(history["penalty"])
    ax_p.set(xlabel="generator step", ylabel="gradient penalty", yscale="log", title="(||grad D|| - 1)^2")
    ax_s.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, label="real")
    ax_s.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.4, label="generated")
    ax_s.set(title="samples", aspect="equal")
    ax_s.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="generator steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="wgan_gp.png")
    args = parser.parse_args(argv)
    h = train(args.steps, seed=args.seed, plot=args.plot)
    k = max(1, len(h["penalty"]) // 10)
    print(f"gradient penalty: {np.mean(h['penalty'][:k]):.4f} over the first {k} generator steps, "
          f"{np.mean(h['penalty'][-k:]):.4f} over the last {k}; {h['seconds']:.1f} s; plot in {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
