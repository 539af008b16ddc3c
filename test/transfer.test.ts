import { describe, it, expect } from 'vitest';
import { sendFile, capabilities } from '../dist/cjs/index.js';
import * as z from '../dist/cjs/index.js';
it('probe', () => {
  console.log(typeof sendFile, typeof capabilities, Object.keys(z), capabilities());
});
