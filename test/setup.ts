// Every test file: no tfjs banner in the test output (tests that pick a backend directly skip initBackend).
import { quietTfjs } from '../src/backend/quiet.js';

quietTfjs();
