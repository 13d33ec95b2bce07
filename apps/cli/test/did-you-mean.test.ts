import { describe, expect, it } from 'vitest';
import { didYouMean } from '../src/did-you-mean.js';

const COMMANDS = ['export', 'inspect', 'predict', 'serve', 'verify', 'deploy', 'predict-cloud', 'completion'];

describe('didYouMean', () => {
  it('counts a swap of two letters as one slip', () => {
    expect(didYouMean('exprot', COMMANDS)).toBe('export');
    expect(didYouMean('inceptoin', ['inception', 'imagenet', 'transfert', 'none'])).toBe('inception');
  });

  it('finds a letter too many, too few or wrong, and ignores case', () => {
    expect(didYouMean('imagenett', ['imagenet', 'random'])).toBe('imagenet');
    expect(didYouMean('predct', COMMANDS)).toBe('predict');
    expect(didYouMean('predict-clod', COMMANDS)).toBe('predict-cloud');
    expect(didYouMean('ImageNet', ['imagenet', 'random'])).toBe('imagenet');
  });

  it('suggests nothing for another word, a short one, or the value itself', () => {
    expect(didYouMean('vgg', ['inception', 'unit', 'caffe', 'torch', 'none'])).toBeUndefined();
    expect(didYouMean('weights.h5', ['imagenet', 'random'])).toBeUndefined();
    expect(didYouMean('x', ['h'])).toBeUndefined();
    expect(didYouMean('export', COMMANDS)).toBeUndefined();
    expect(didYouMean('anything', [])).toBeUndefined();
  });

  it('prefers the closest candidate, then the earlier one', () => {
    expect(didYouMean('serv', ['server', 'serve'])).toBe('serve');
    expect(didYouMean('bat', ['cat', 'hat'])).toBe('cat');
  });
});
