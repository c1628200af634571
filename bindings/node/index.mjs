import elector from './index.js'

export const {Elector, EVENTS} = elector
export default elector
