"""Stochastic optimizers updating one flat parameter vector in place.

The interface follows scikit-learn's ``MLPClassifier`` optimizers
(``update_params``, ``iteration_ends``, ``trigger_stopping``), but a network
keeps all its weights in one flat buffer, so every optimizer works on a single
1-D array and keeps its state in arrays of the same dtype.
"""

# SPDX-License-Identifier: BSD-3-Clause

import math

import numpy as np

_LR_SCHEDULES = ("constant", "invscaling", "adaptive")


class BaseOptimizer:
    """Base stochastic gradient descent optimizer.

    Parameters
    ----------
    learning_rate_init : float
        The initial learning rate.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the state at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss stopped improving.

        Parameters
        ----------
        msg : str
            Reason for stopping, printed when ``verbose``.

        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
            True if training must stop.
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with momentum.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector; its shape and dtype set those of the
        velocity.

    learning_rate_init : float, default=0.1
        The initial learning rate.

    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning rate schedule:

        - ``"constant"`` keeps ``learning_rate_init``;
        - ``"invscaling"`` sets the rate to
          ``learning_rate_init / (time_step + 1) ** power_t`` at the end of
          every epoch;
        - ``"adaptive"`` divides the rate by 5 each time
          :meth:`trigger_stopping` is called, and stops training once the
          rate is at most 1e-6.

    momentum : float, default=0.9
        Momentum, at least 0.

    nesterov : bool, default=True
        Whether to use Nesterov's momentum.

    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.

    velocity : ndarray of shape (n_params,)
        The momentum term, in the dtype of ``params``.
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        if lr_schedule not in _LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {_LR_SCHEDULES}; got {lr_schedule!r}."
            )
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step, updating ``params`` in place.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector, updated in place.

        grads : ndarray of shape (n_params,)
            The gradient of the loss with respect to ``params``.
        """
        self.velocity *= self.momentum
        self.velocity -= self.learning_rate * grads
        if self.nesterov:
            # Look ahead along the new velocity: the step is the velocity that
            # the next update would build from the same gradient.
            params += self.momentum * self.velocity - self.learning_rate * grads
        else:
            params += self.velocity

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far, used by ``"invscaling"``.
        """
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss stopped improving.

        With the ``"adaptive"`` schedule, training goes on with a learning
        rate divided by 5 until that rate is at most 1e-6.

        Parameters
        ----------
        msg : str
            Reason for stopping, printed when ``verbose``.

        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
            True if training must stop.
        """
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer(BaseOptimizer):
    """Adam, with bias-corrected moment estimates.

    The defaults are those of the Adam paper.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector; its shape and dtype set those of the
        moment estimates.

    learning_rate_init : float, default=0.001
        The initial learning rate.

    beta_1 : float, default=0.9
        Decay rate of the first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of the second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Added to the denominator for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The bias-corrected learning rate of the last step.

    t : int
        Number of steps taken.

    m : ndarray of shape (n_params,)
        First moment estimate, in the dtype of ``params``.

    v : ndarray of shape (n_params,)
        Second moment estimate, in the dtype of ``params``.

    References
    ----------
    Kingma, Diederik, and Jimmy Ba (2014) "Adam: A method for stochastic
    optimization." arXiv:1412.6980.
    """

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step, updating ``params`` in place.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector, updated in place.

        grads : ndarray of shape (n_params,)
            The gradient of the loss with respect to ``params``.
        """
        self.t += 1
        self.m *= self.beta_1
        self.m += (1 - self.beta_1) * grads
        self.v *= self.beta_2
        self.v += (1 - self.beta_2) * np.square(grads)
        # Folding both bias corrections into the learning rate saves two
        # passes over the parameters; keeping it a Python float (math.sqrt,
        # not np.sqrt) keeps float32 arithmetic in float32.
        self.learning_rate = (
            float(self.learning_rate_init)
            * math.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        params -= self.learning_rate * self.m / (np.sqrt(self.v) + self.epsilon)


def clip_grad_norm(grads, max_norm):
    """Scale gradients in place so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : ndarray of shape (n_params,)
        The flat gradient vector, scaled in place when its norm exceeds
        ``max_norm``.

    max_norm : float or None
        Largest allowed Euclidean norm. None or ``np.inf`` disables clipping.

    Returns
    -------
    norm : float
        The norm of ``grads`` before clipping. It may be NaN or infinite, in
        which case ``grads`` is left untouched and the caller must react.
    """
    if max_norm is not None and not max_norm > 0:
        raise ValueError(
            f"max_norm must be a positive float or None; got {max_norm!r}."
        )
    norm = float(np.linalg.norm(grads))
    if max_norm is not None and np.isfinite(norm) and norm > max_norm:
        grads *= max_norm / norm
    return norm
