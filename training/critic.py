"""A GAN family's second network for the shared trainer: its own Adam, stepped after the main step on the
family's `critic_loss`, and saved in (and restored from) the trainer's checkpoints under `critic_optim.`."""
from __future__ import annotations

import torch

PREFIX = "critic_optim."


class CriticStep:
    def __init__(self, part: torch.nn.Module, loss, lr: float):
        self.part, self.loss = part, loss
        self.optimizer = torch.optim.Adam(part.parameters(), lr=lr)
        self.ids = {id(p) for p in part.parameters()}

    @classmethod
    def of(cls, module: torch.nn.Module, family, lr: float) -> "CriticStep | None":
        """The family's critic, when it names one and this model has it."""
        part = getattr(module, family.critic, None) if family.critic else None
        return cls(part, family.critic_loss, lr) if part is not None else None

    def owns(self, parameter: torch.nn.Parameter) -> bool:
        return id(parameter) in self.ids

    def step(self, model, batch: dict, lr: float, grad_clip: float, autocast) -> dict:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast():
            loss, metrics = self.loss(model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.part.parameters(), grad_clip)
        self.optimizer.step()
        return metrics

    def state(self) -> tuple[dict, list]:
        state = self.optimizer.state_dict()
        tensors = {f"{PREFIX}{index}.{key}": torch.as_tensor(value).cpu().numpy()
                   for index, slots in state["state"].items() for key, value in slots.items()}
        return tensors, state["param_groups"]

    def load_state(self, tensors: dict, groups: list, device: torch.device) -> None:
        state: dict[int, dict] = {}
        for name, value in tensors.items():
            if name.startswith(PREFIX):
                index, key = name[len(PREFIX):].split(".", 1)
                state.setdefault(int(index), {})[key] = torch.from_numpy(value).to(device)
        for slots in state.values():
            slots["step"] = slots["step"].cpu()
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
