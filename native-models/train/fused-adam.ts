/**
 * Adam with one fused kernel per variable on the wasm backend.
 *
 * tfjs-core's AdamOptimizer.applyGradients runs ~10 elementwise kernels (and as many tensor
 * allocations) per variable: ~11-18 ms per step for the U-Net's 50 variables (482k weights) on
 * wasm, mostly per-kernel overhead. This subclass runs wasm-kernels.ts's FoveaAdamUpdate instead
 * (one pass over the heap per variable, the same float32 operations in the same order) and then
 * assigns the three results. Everything else is inherited: the moment variables, their names and
 * order, accBeta1/2, iterations, getWeights/setWeights (checkpoints and resume), className 'Adam'.
 * On any other backend, or with the wasm training kernels unregistered, it is tfjs-core's Adam.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_ADAM, wasmTrainingKernelsRegistered } from '../backends/wasm-kernels';

type Moment = { originalName: string; variable: tf.Variable };
/** tfjs-core's applyGradients argument (NamedVariableMap | NamedTensor[], not re-exported by @tensorflow/tfjs). */
type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
  incrementIterations(): void;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** The step size of the next applyGradients (a schedule sets it before each step; see lr-schedule.ts). */
  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  /** Whether the next applyGradients takes the fused path. */
  fused(): boolean {
    return tf.getBackend() === 'wasm' && wasmTrainingKernelsRegistered() && tf.getKernel(FUSED_ADAM, 'wasm') != null;
  }

  override applyGradients(variableGradients: Gradients): void {
    if (!this.fused()) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    // 1 - beta^t as tfjs-core computes it (sub(1, accBeta) in float32).
    const oneMinusAccBeta1 = Math.fround(1 - (self.accBeta1.dataSync()[0] as number));
    const oneMinusAccBeta2 = Math.fround(1 - (self.accBeta2.dataSync()[0] as number));
    const attrs = { beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, learningRate: self.learningRate, oneMinusAccBeta1, oneMinusAccBeta2 };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name] as tf.Variable;
        if (self.accumulatedFirstMoment[i] == null) self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        if (self.accumulatedSecondMoment[i] == null) self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = Array.isArray(variableGradients) ? variableGradients[i]?.tensor : variableGradients[name];
        if (gradient == null) return;
        const m = (self.accumulatedFirstMoment[i] as Moment).variable;
        const v = (self.accumulatedSecondMoment[i] as Moment).variable;
        if (value.dtype !== 'float32' || gradient.dtype !== 'float32' || !tf.util.arraysEqual(gradient.shape, value.shape)) throw new Error(`FusedAdamOptimizer: ${name} needs a float32 gradient of its shape`);
        const [m1, v1, value1] = tf.engine().runKernel(FUSED_ADAM, { value, gradient, m, v }, attrs) as tf.Tensor[];
        m.assign(m1 as tf.Tensor);
        v.assign(v1 as tf.Tensor);
        value.assign(value1 as tf.Tensor);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}

/** Adam as tf.train.adam(learningRate) builds it (beta1 0.9, beta2 0.999, the backend's epsilon), fused on wasm. */
export function adam(learningRate: number): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, 0.9, 0.999);
}
